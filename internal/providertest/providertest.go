// Package providertest signs test requests with webhook providers' own
// official libraries, from npm, run on Node.js: a request a provider's
// library signs is the evidence that a source verifies what the provider
// sends. The packages are installed once per test binary into a temporary
// folder (npm and node must be on PATH; a test fails without them when
// HOOKLATCH_REQUIRE_SERVICES=1 and is skipped otherwise).
package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Packages are the official libraries, at the versions the tests were
// written against.
var Packages = []string{
	"standardwebhooks@1.3.0",
	"svix@1.99.1",
	"stripe@23.2.0",
	"@octokit/webhooks-methods@6.0.0",
	"twilio@6.3.1",
}

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// dir installs Packages once and returns the folder.
func dir(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") != "" {
				t.Fatalf("%s is not on PATH: the providers' official libraries run on Node.js", tool)
			}
			t.Skipf("%s is not on PATH: the providers' official libraries run on Node.js", tool)
		}
	}
	installOnce.Do(func() {
		installDir, installErr = os.MkdirTemp("", "hooklatch-providers-")
		if installErr != nil {
			return
		}
		cmd := exec.Command("npm", append([]string{"install", "--no-audit", "--no-fund", "--silent"}, Packages...)...)
		cmd.Dir = installDir
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("npm install %v: %v\n%s", Packages, err, out)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	return installDir
}

// Cleanup removes the installed packages; call it from TestMain after the
// tests ran.
func Cleanup() {
	if installDir != "" {
		_ = os.RemoveAll(installDir)
	}
}

// Run runs script, an ES module, with in as JSON on its standard input,
// and decodes its standard output, JSON, into out. The script reads its
// input with `JSON.parse(readFileSync(0, "utf8"))` and imports the
// packages by name.
func Run(t testing.TB, script string, in, out any) {
	t.Helper()
	d := dir(t)
	f, err := os.CreateTemp(d, "sign-*.mjs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(script); err != nil {
		t.Fatal(err)
	}
	f.Close()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Base(f.Name()))
	cmd.Dir = d
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("node's output is not JSON: %v\n%s", err, stdout)
	}
}
