package cli_test

import (
	"encoding/xml"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// junitDoc is the part of a JUnit report the tests read.
type junitDoc struct {
	XMLName xml.Name `xml:"testsuites"`
	Suites  []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "hooklatch check" {
		t.Fatalf("%s: want one suite, hooklatch check:\n%s", path, b)
	}
	return doc
}

func TestCheckServePasses(t *testing.T) {
	t.Parallel()
	srv := startServe(t)
	report := filepath.Join(t.TempDir(), "check.xml")
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "",
		"check", "http://"+srv.Addr()+"/webhooks/sent", "--burst", "20", "--junit", report)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, " passed, 0 failed, ") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	s := readJUnit(t, report).Suites[0]
	if s.Tests != 12 || len(s.Cases) != 12 || s.Failures != 0 {
		t.Errorf("%d tests, %d test cases, %d failures; want 12, 12, 0", s.Tests, len(s.Cases), s.Failures)
	}
	if s.Cases[0].Name != "accepts-v1" || s.Cases[11].Name != "out-of-order" {
		t.Errorf("cases from %s to %s", s.Cases[0].Name, s.Cases[11].Name)
	}
}

// A handler that answers 200 to everything fails every rejects-* case, and
// the output says why and what to do. The cases graded on speed are left
// out, so that the output does not depend on this machine's.
func TestCheckAcceptsEverythingFails(t *testing.T) {
	t.Parallel()
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok"))
	}))
	t.Cleanup(h.Close)
	report := filepath.Join(t.TempDir(), "check.xml")
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "check", h.URL+"/hook", "--junit", report,
		"--only", "rejects-bad-signature,rejects-missing-signature,rejects-tampered-body,rejects-stale-timestamp,rejects-reserialised-json",
		"--only", "duplicate,unknown-type,large-body,out-of-order")
	if r.code != cli.ExitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFailed, r.stdout, r.stderr)
	}
	// The out-of-order case names the message it sent, a new one each run.
	golden(t, "check_accepts_everything", regexp.MustCompile(`message [0-9a-f-]{36}'s`).ReplaceAllString(r.stdout, "message MESSAGE_ID's"))
	if !strings.Contains(r.stderr, "failed: rejects-bad-signature, rejects-missing-signature, rejects-tampered-body, rejects-stale-timestamp, rejects-reserialised-json") {
		t.Errorf("stderr: %s", r.stderr)
	}
	s := readJUnit(t, report).Suites[0]
	var failed []string
	for _, c := range s.Cases {
		if c.Failure != nil {
			failed = append(failed, c.Name)
		}
	}
	if len(s.Cases) != 9 || s.Failures != 5 || len(failed) != 5 {
		t.Errorf("%d test cases, %d failures (%v); want 9, 5", len(s.Cases), s.Failures, failed)
	}
}

func TestCheckUnreachableIsARuntimeError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "check", "http://"+addr+"/hook")
	if r.code != cli.ExitRuntime || r.stdout != "" || !strings.Contains(r.stderr, "cannot reach the handler at http://"+addr+"/hook: connection refused") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
	for _, a := range [][]string{
		{"check"},
		{"check", "localhost:8080/hook"},
		{"check", "http://127.0.0.1:1/hook", "--scheme", "v2"},
		{"check", "http://127.0.0.1:1/hook", "--only", "accepts"},
		{"check", "http://127.0.0.1:1/hook", "--burst", "0"},
		{"check", "http://127.0.0.1:1/hook", "--deadline", "0s"},
	} {
		if r := run(t, vars, "", a...); r.code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", a, r.code, cli.ExitUsage, r.stderr)
		}
	}
	if r := run(t, nil, "", "check", "http://127.0.0.1:1/hook"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "no signing secret") {
		t.Errorf("no secret: exit %d\n%s", r.code, r.stderr)
	}
}
