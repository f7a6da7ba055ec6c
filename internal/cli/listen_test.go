package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/signature"
)

// watchedBuffer is a logtest.Buffer whose readers can wait for a line.
type watchedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newWatchedBuffer() *watchedBuffer { return &watchedBuffer{changed: make(chan struct{})} }

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.changed)
	w.changed = make(chan struct{})
	return w.b.Write(p)
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// waitFor returns the first submatch of re once the output matches it. The
// guard against a hang is generous; it does not measure speed.
func (w *watchedBuffer) waitFor(t *testing.T, re *regexp.Regexp, exited <-chan int) string {
	t.Helper()
	guard := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		text, changed := w.b.String(), w.changed
		w.mu.Unlock()
		if m := re.FindStringSubmatch(text); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-changed:
		case code := <-exited:
			t.Fatalf("listen exited %d before printing %s:\n%s", code, re, text)
		case <-guard:
			t.Fatalf("listen did not print %s:\n%s", re, text)
		}
	}
}

func TestListenCommandReceivesForwardsAndStops(t *testing.T) {
	t.Parallel()
	var hits sync.WaitGroup
	hits.Add(1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Forwarded events are re-signed with the signing secret, in the
		// scheme they arrived with, so the app's own check passes.
		if r.Header.Get(signature.HeaderSignature) == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		hits.Done()
	}))
	defer app.Close()

	out, errOut := newWatchedBuffer(), &logtest.Buffer{}
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret, "NO_COLOR": "1"}
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"listen", "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "l.db"),
			"--forward-to", strings.TrimPrefix(app.URL, "http://") + "/hook"}, env) // host:port/path, http assumed
	}()

	url := out.waitFor(t, regexp.MustCompile(`listening +(http://\S+)`), exited)
	secret, err := signature.ParseSecret(v1Secret)
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := devtools.Samples{Types: []string{"message.delivered"}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	a := devtools.Post(ctx, http.DefaultClient, url, devtools.Signer{Scheme: signature.V1, Secret: secret}.Header(reqs[0], time.Now()), bytes.NewReader(reqs[0].Body))
	if a.StatusCode != http.StatusOK {
		t.Fatalf("listen answered %s %s", a.Status, a.Body)
	}
	out.waitFor(t, regexp.MustCompile(`✓ v1 +message\.delivered +msg \w+ +DELIVERED +\w{8}  new\n +→ (204) No Content`), exited)
	hits.Wait()

	cancel() // as SIGINT does
	if code := <-exited; code != cli.ExitOK {
		t.Errorf("exit %d after cancel, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out.String(), "stopped after 1 request: 1 new, 0 duplicates, 0 rejected; forwarding: 1 delivered") {
		t.Errorf("no summary:\n%s", out)
	}
	if strings.Contains(out.String(), "\x1b[") || errOut.String() != "" {
		t.Errorf("want plain output and a quiet log; stdout:\n%q\nstderr:\n%s", out, errOut)
	}
}

// With --json, standard output is JSON lines only; the banner and the
// summary go to standard error.
func TestListenCommandJSON(t *testing.T) {
	t.Parallel()
	out, errOut := newWatchedBuffer(), newWatchedBuffer()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"listen", "--json", "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "l.db")}, env)
	}()
	url := errOut.waitFor(t, regexp.MustCompile(`listening +(http://\S+)`), exited)
	secret, err := signature.ParseSecret(v1Secret)
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := devtools.Samples{Types: []string{"template.approved"}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	devtools.Post(ctx, http.DefaultClient, url, devtools.Signer{Scheme: signature.V1, Secret: secret}.Header(reqs[0], time.Now()), bytes.NewReader(reqs[0].Body))
	out.waitFor(t, regexp.MustCompile(`("outcome":"accepted")`), exited)
	cancel()
	if code := <-exited; code != cli.ExitOK {
		t.Errorf("exit %d", code)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("stdout line is not JSON: %q", line)
		}
		if rec["type"] != "template.approved" {
			t.Errorf("record %v", rec)
		}
	}
	if !strings.Contains(errOut.String(), "stopped after 1 request") {
		t.Errorf("no summary on stderr:\n%s", errOut)
	}
}

func TestListenUsageErrors(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		golden string
		want   string
	}{
		{"replay without forward-to", []string{"listen", "--replay", "3c4d5e6f"}, "listen_replay_without_forward", ""},
		{"replay-failed without forward-to", []string{"listen", "--replay-failed"}, "", "pass --forward-to URL too"},
		{"forward options without forward-to", []string{"listen", "--forward-attempts", "3"}, "", "--forward-attempts applies to forwarded events"},
		{"colour", []string{"listen", "--color", "rainbow"}, "", `--color "rainbow"`},
		{"scheme", []string{"listen", "--scheme", "v2"}, "", "--scheme"},
		{"unknown event", []string{"listen", "--store", filepath.Join(dir, "l.db"), "--addr", "127.0.0.1:0",
			"--forward-to", "http://127.0.0.1:9/hook", "--replay", "3c4d5e6f"}, "", "no such event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, vars, "", tt.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d\n%s", r.code, cli.ExitUsage, r.stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, tt.want)
			}
		})
	}
	if r := run(t, nil, "", "listen"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "SENT_WEBHOOK_SECRET") {
		t.Errorf("no secret: exit %d %s", r.code, r.stderr)
	}
}
