package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The built binary names the commit it was built from: go build stamps it
// from the git checkout, and 'hooklatch version' reads it back. The build
// asks for the stamp (-buildvcs=true), which GOFLAGS may have turned off.
func TestVersionNamesTheCommit(t *testing.T) {
	t.Parallel()
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout (git rev-parse HEAD: %v): the binary has no commit to name", err)
	}
	if dirs, err := exec.Command("git", "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir").Output(); err == nil {
		if d := strings.Fields(string(dirs)); len(d) == 2 && d[0] != d[1] {
			t.Skipf("a linked git worktree (%s): go build stamps the commit only in a checkout with its own .git directory", d[0])
		}
	}
	stamped := filepath.Join(t.TempDir(), "hooklatch")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(stamped, "version").Output()
	if err != nil {
		t.Fatalf("hooklatch version: %v", err)
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if first == "hooklatch dev" || first == "hooklatch (devel)" || !strings.HasPrefix(first, "hooklatch v") {
		t.Errorf("version's first line %q names no module version", first)
	}
	var revision string
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == "revision" {
			revision = strings.TrimSpace(v)
		}
	}
	if want := strings.TrimSpace(string(head)); revision != want {
		t.Errorf("version says revision %q, git rev-parse HEAD says %q:\n%s", revision, want, out)
	}
}

// healthcheck exits 0 while serve's admin listener answers /healthz, found
// through the same $HOOKLATCH_ADMIN_ADDR serve was given, and 1 once serve
// has stopped: what a container's HEALTHCHECK runs.
func TestHealthcheckFollowsServe(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	t.Parallel()
	rawSecret, _ := newSecret(t)
	addr, admin := freeAddr(t), freeAddr(t)
	_, port, _ := strings.Cut(admin, ":")
	cmd, logs := startServe(t, rawSecret, filepath.Join(t.TempDir(), "hooklatch.db"), addr, "--admin-addr", admin)
	if err := waitHealthy(cmd, admin, "/healthz", 15*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%v\n%s", err, logs)
	}
	// ":port" as a container would set it: asked on loopback.
	out := run(t, []string{"HOOKLATCH_ADMIN_ADDR=:" + port}, "healthcheck")
	if !strings.Contains(out, "healthy: http://127.0.0.1:"+port+"/healthz answered 200 OK") {
		t.Errorf("healthcheck said %q", out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v\n%s", err, logs)
	}
	check := exec.Command(binary, "healthcheck", "--url", "http://"+admin+"/healthz", "--timeout", "2s")
	check.Env = os.Environ()
	got, err := check.CombinedOutput()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 1 {
		t.Fatalf("healthcheck with serve stopped: %v, want exit status 1\n%s", err, got)
	}
	if !strings.Contains(string(got), "unhealthy") {
		t.Errorf("healthcheck with serve stopped said %q", got)
	}
}
