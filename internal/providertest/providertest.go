// Package providertest signs test requests with webhook providers' own
// official libraries, from npm, run on Node.js: a request a provider's
// library signs is the evidence that a source verifies what the provider
// sends. The packages are installed once into the user's cache folder
// (npm and node must be on PATH; a test fails without them when
// HOOKLATCH_REQUIRE_SERVICES=1 and is skipped otherwise), and reused by
// later runs until Packages change.
package providertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	"@shopify/shopify-api@15.0.0",
	// Meta's WhatsApp Business Platform SDK (github.com/WhatsApp/WhatsApp-Nodejs-SDK);
	// its one release, the later 1.0.0 of the name being an empty package.
	"whatsapp@0.0.5-Alpha",
}

var (
	installOnce sync.Once
	installDir  string
	installErr  error
)

// dir installs Packages once and returns the folder: a folder of the
// user's cache named after Packages, made by installing into a temporary
// folder and renaming it, so that test binaries running at once never see
// a half-made one.
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
	installOnce.Do(func() { installDir, installErr = install() })
	if installErr != nil {
		t.Fatal(installErr)
	}
	return installDir
}

func install() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256([]byte(strings.Join(Packages, " ")))
	final := filepath.Join(cache, "hooklatch", "providertest-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(final, "node_modules")); err == nil {
		return final, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), "installing-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // gone once renamed; left behind by a failure
	cmd := exec.Command("npm", append([]string{"install", "--no-audit", "--no-fund", "--silent"}, Packages...)...)
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %v: %v\n%s", Packages, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(filepath.Join(final, "node_modules")); serr != nil {
			return "", err
		}
		// Another test binary installed it first: use theirs.
	}
	return final, nil
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
