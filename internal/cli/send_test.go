package cli_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// send's scenario, against the real receiver: every genuine event stored
// once (duplicates answered as such), every forged copy kept as a
// rejection with the right reason.
func TestSendScenarioToServe(t *testing.T) {
	t.Parallel()
	srv := startServe(t)

	dir := t.TempDir()
	body := filepath.Join(dir, "mine.json")
	if err := os.WriteFile(body, []byte(`{"field":"contact","event":"contact.opt_out","timestamp":"2026-11-29T09:00:00Z","payload":{"contact_id":"c-1","opt_out":true}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	scenario := filepath.Join(dir, "chaos.yaml")
	if err := os.WriteFile(scenario, []byte(`
to: http://`+srv.Addr()+`/webhooks/sent
time_scale: 1000
seed: 7
steps:
  - lifecycle: [QUEUED, SENT, DELIVERED, READ]
    shuffle: true
    duplicates: 1
  - pause: 2s
  - events: [templates.approved, message.received]
    tamper: true
    stale: 10m
  - file: mine.json
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "send", "--scenario", scenario)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "11 deliveries: 11 delivered; 4 of 4 forged requests rejected with a 4xx") {
		t.Errorf("summary missing:\n%s", r.stdout)
	}
	st, err := srv.Store().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 7 { // 4 statuses + 2 events + the file; the 4 duplicates are not stored again
		t.Errorf("events stored = %d, want 7", st.Events)
	}
	// Rejections are kept off the request path: wait for the last one.
	reasons := map[string]int{}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		rejs, err := srv.Store().ListRejections(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		clear(reasons)
		for _, rj := range rejs {
			reasons[rj.Reason]++
		}
		if len(rejs) >= 4 {
			break
		}
	}
	if reasons["no_match"] != 2 || reasons["stale_timestamp"] != 2 {
		t.Errorf("rejections by reason %v, want 2 no_match and 2 stale_timestamp", reasons)
	}
}

func TestSendRetriesUntilTheHandlerRecovers(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var agent atomic.Value
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent.Store(r.UserAgent())
		if calls.Add(1) <= 2 {
			http.Error(w, "database is down", http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "send", "message.delivered", "--to", app.URL, "--time-scale", "1000")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ua, _ := agent.Load().(string); ua != cli.UserAgent() || !strings.HasPrefix(ua, "hooklatch/") {
		t.Errorf("User-Agent %q, want %s", ua, cli.UserAgent())
	}
	for _, want := range []string{"retry in 1s", "answered: database is down", "retry in 2s", "200 OK", "1 delivery: 1 delivered"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// A handler that never recovers: the current profile gives up after
	// its retries and the command fails.
	calls.Store(-100)
	r = run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "send", "message.sent", "--to", app.URL,
		"--profile", "current", "--retries", "2", "--time-scale", "60000")
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "1 failed") || strings.Count(r.stdout, "500 Internal Server Error") != 3 {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestSendUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("to: http://localhost:1\nsteps:\n  - events: [message.sent]\n    duplicate: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"send", "message.sent"}, "--to"},
		{[]string{"send", "--to", "http://localhost:1"}, "name event types"},
		{[]string{"send", "message.sent", "--to", "localhost:1"}, "http://"},
		{[]string{"send", "message.sent", "--to", "http://localhost:1", "--retries", "4"}, "--profile current"},
		{[]string{"send", "message.sent", "--to", "http://localhost:1", "--profile", "current", "--retries", "9"}, "1 to 5"},
		{[]string{"send", "message.sent", "--to", "http://localhost:1", "--profile", "current", "--timeout", "2s"}, "5s to 2m0s"},
		{[]string{"send", "message.sent", "--to", "http://localhost:1", "--scheme", "legacy", "--stale", "10m"}, "legacy signatures carry no timestamp"},
		{[]string{"send", "message.sentt", "--to", "http://localhost:1"}, "did you mean"},
		{[]string{"send", "--lifecycle", "QUEUED,TELEPORTED", "--to", "http://localhost:1"}, "not a message status"},
		{[]string{"send", "--scenario", typo}, "duplicate"},
		{[]string{"send", "--scenario", typo, "message.sent"}, "do not also name"},
		{[]string{"send", "message.sent", "--count", "0", "--to", "http://localhost:1"}, "--count"},
		{[]string{"send", "--file", filepath.Join(dir, "missing.json"), "--to", "http://localhost:1"}, "no such file"},
	} {
		r := run(t, vars, "", tc.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q and nothing sent", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// Flags beat the scenario file's top-level settings.
func TestSendFlagsOverrideTheScenario(t *testing.T) {
	t.Parallel()
	srv := startServe(t)
	scenario := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(scenario, []byte("to: http://127.0.0.1:1/nowhere\nscheme: legacy\nsteps:\n  - events: [message.sent]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "send", "--scenario", scenario,
		"--to", "http://"+srv.Addr()+"/webhooks/sent", "--scheme", "v1")
	if r.code != 0 || !strings.Contains(r.stdout, "with v1 signatures") || !strings.Contains(r.stdout, "1 delivery: 1 delivered") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
