// Package workertest runs real workers (a Celery worker, a BullMQ Worker)
// for the worker-native destinations' tests, and finds the services they
// need.
package workertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// required reports whether missing services and tools fail tests instead
// of skipping them.
func required() bool { return os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" }

// missing skips t, or fails it when services are required.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format+" (HOOKLATCH_REQUIRE_SERVICES=1)", args...)
	}
	t.Skipf(format, args...)
}

// ServiceURL returns the URL in the environment variable env, or skips t
// (fails it with HOOKLATCH_REQUIRE_SERVICES=1) when it is not set.
func ServiceURL(t testing.TB, env, example string) string {
	t.Helper()
	u := os.Getenv(env)
	if u == "" {
		missing(t, "set %s (e.g. %s) to run this test", env, example)
	}
	return u
}

// Name returns a name no other test run uses, for a queue.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// Events is how many events a worker test sends: HOOKLATCH_WORKER_EVENTS
// when set (to measure throughput), or def.
func Events(t testing.TB, def int) int {
	t.Helper()
	s := os.Getenv("HOOKLATCH_WORKER_EVENTS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 {
		t.Fatalf("HOOKLATCH_WORKER_EVENTS=%q: want a whole number, 2 or more", s)
	}
	return n
}

// Python is Debian's interpreter, the one python3-celery installs into.
const Python = "/usr/bin/python3"

// NeedPython skips t unless Python imports every module named.
func NeedPython(t testing.TB, modules ...string) {
	t.Helper()
	code := "import " + strings.Join(modules, ", ")
	if out, err := exec.Command(Python, "-c", code).CombinedOutput(); err != nil {
		missing(t, "%s cannot %q (apt-get install -y python3-celery python3-redis): %v %s", Python, code, err, bytes.TrimSpace(out))
	}
}

// NeedNode skips t unless node and npm are on PATH.
func NeedNode(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, "%s is not installed (apt-get install -y nodejs npm)", tool)
		}
	}
}

// Worker is a worker process started by Start, writing one JSON object a
// line to a file.
type Worker struct {
	cmd  *exec.Cmd
	out  string
	logs *bytes.Buffer
	done chan struct{}
}

// Start runs name args in dir with env added; the worker writes what it
// received, one JSON object a line, to the file named by the environment
// variable OUT. The process (and its children) is stopped when t ends.
func Start(t testing.TB, dir string, env []string, name string, args ...string) *Worker {
	t.Helper()
	w := &Worker{out: filepath.Join(dir, "received.jsonl"), logs: new(bytes.Buffer), done: make(chan struct{})}
	if err := os.WriteFile(w.out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(name, args...)
	w.cmd.Dir = dir
	w.cmd.Env = append(append(os.Environ(), env...), "OUT="+w.out)
	w.cmd.Stdout, w.cmd.Stderr = w.logs, w.logs
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		w.Stop()
		if t.Failed() {
			t.Logf("worker output:\n%s", w.logs)
		}
	})
	return w
}

// Stop ends the worker's process group and waits for it.
func (w *Worker) Stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		<-w.done
	}
}

// Received waits until the worker has written at least n lines (or ctx
// ends, or the worker exits) and returns them decoded.
func (w *Worker) Received(ctx context.Context, t testing.TB, n int) []map[string]any {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := w.read(t)
		if len(got) >= n {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the worker received %d of %d: %v\nworker output:\n%s", len(got), n, ctx.Err(), w.logs)
		case <-w.done:
			t.Fatalf("the worker exited after receiving %d of %d\nworker output:\n%s", len(got), n, w.logs)
		case <-tick.C:
		}
	}
}

var readMu sync.Mutex

func (w *Worker) read(t testing.TB) []map[string]any {
	readMu.Lock()
	defer readMu.Unlock()
	f, err := os.Open(w.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			break // a line being written
		}
		got = append(got, m)
	}
	return got
}
