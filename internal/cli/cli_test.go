package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	v1Secret     = "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="
	legacySecret = "fixture-legacy-secret"
	f1           = "../../testdata/sent/f1.json"
	vectorID     = "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8"
	vectorTS     = "1761905442"
)

type result struct {
	code           int
	stdout, stderr string
}

// startServe runs `hooklatch serve` in-process on a fresh store, with the
// fixture secret, until the test ends.
func startServe(t *testing.T) *server.Server {
	t.Helper()
	secrets, err := signature.ParseSecrets(v1Secret)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "off", Store: filepath.Join(t.TempDir(), "h.db"), Secrets: secrets,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	return srv
}

// run runs the CLI in-process with only the given environment variables.
func run(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut logtest.Buffer
	env := cli.Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
	}
	code := cli.Main(context.Background(), args, env)
	return result{code, out.String(), errOut.String()}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSignMatchesTheVectors(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "", "sign", f1, "--secret", v1Secret, "--webhook-id", vectorID, "--timestamp", vectorTS)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "sign_v1", r.stdout)
	if !strings.Contains(r.stdout, "X-Webhook-Signature: v1,BdGvszniYLgk93FxFTxyqtUSCWEzQsZfFuUO2EYZWpE=\n") {
		t.Errorf("v1 signature is not the vector's:\n%s", r.stdout)
	}

	r = run(t, map[string]string{"SENT_WEBHOOK_SECRET": legacySecret}, "", "sign", f1, "--scheme", "legacy")
	if r.code != 0 || !strings.Contains(r.stdout, "X-Webhook-Signature: sha256=4cf2988b9804bd0eab9c684bfee83afee09591990af440f5cac5c5226b57f8d5\n") {
		t.Errorf("legacy sign: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(f1)
	if err != nil {
		t.Fatal(err)
	}
	headers := []string{"-H", "X-Webhook-Id: " + vectorID, "-H", "X-Webhook-Timestamp: " + vectorTS,
		"-H", "X-Webhook-Signature: v1,BdGvszniYLgk93FxFTxyqtUSCWEzQsZfFuUO2EYZWpE="}
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}

	r := run(t, vars, string(body), append([]string{"verify", "--now", vectorTS}, headers...)...)
	if r.code != cli.ExitOK || r.stdout != "OK: v1 signature verified with secret 1 of 1 (fp 8b894291)\ntimestamp 2025-10-31T10:10:42Z, now\n" {
		t.Errorf("valid: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Judged 2m1s after it was signed, and 1m59s before: within the
	// tolerance, and said the way people say it.
	for now, want := range map[string]string{"1761905563": "2m1s ago", "1761905323": "1m59s in the future"} {
		r := run(t, vars, string(body), append([]string{"verify", "--now", now}, headers...)...)
		if r.code != cli.ExitOK || !strings.HasSuffix(r.stdout, ", "+want+"\n") {
			t.Errorf("verify --now %s: exit %d, %q; want the timestamp %s", now, r.code, r.stdout, want)
		}
	}

	// The same body pretty-printed by a framework before verification.
	var pretty bytes.Buffer
	pretty.WriteString("{\n  \"field\": \"message\"\n}")
	r = run(t, vars, pretty.String(), append([]string{"verify", "--now", vectorTS}, headers...)...)
	if r.code != cli.ExitFailed || !strings.HasPrefix(r.stdout, "FAILED: ") {
		t.Errorf("tampered: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Stale: judged ten minutes later.
	r = run(t, vars, string(body), append([]string{"verify", "--now", "1761906042"}, headers...)...)
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "stale") {
		t.Errorf("stale: exit %d\n%s", r.code, r.stdout)
	}
	golden(t, "verify_stale", r.stdout)
}

// Every sample type, printed by trigger, verifies with verify: the two
// commands agree on the bytes, in both schemes.
func TestTriggerPrintVerifies(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret + "," + legacySecret}
	for _, scheme := range []string{"v1", "legacy"} {
		for _, typ := range event.Types {
			r := run(t, vars, "", "trigger", typ.Name, "--print", "--scheme", scheme, "--set", "payload.note=hello 'world'")
			if r.code != 0 {
				t.Fatalf("trigger %s --scheme %s: exit %d: %s", typ.Name, scheme, r.code, r.stderr)
			}
			v := run(t, vars, r.stdout, "verify", "--request", "-")
			if v.code != 0 {
				t.Errorf("trigger %s --scheme %s did not verify:\n%s\n%s", typ.Name, scheme, r.stdout, v.stdout)
			}
		}
	}
}

func TestTriggerSendsToServe(t *testing.T) {
	t.Parallel()
	srv := startServe(t)
	url := "http://" + srv.Addr() + "/webhooks/sent"
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}

	r := run(t, vars, "", "trigger", "message.queued", "message.delivered", "template.approved", "--count", "2", "--to", url)
	if r.code != 0 || strings.Count(r.stdout, "200 OK") != 6 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, err := srv.Store().Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 6 {
		t.Errorf("events stored = %d, want 6", st.Events)
	}

	// Signed with another secret: 401, and trigger says so with exit 1.
	r = run(t, map[string]string{"SENT_WEBHOOK_SECRET": "whsec_" + "b3RoZXItZW52aXJvbm1lbnQta2V5LTAxMjM0NTY3OA=="}, "", "trigger", "message.sent", "--to", url)
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "401") {
		t.Errorf("wrong secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A request signed with a secret the server does not have is kept; after
// the secret is fixed, release stores it as the event it should have been,
// routed to the server's destinations as a received one is, and delivered.
func TestRejectionsRelease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	storePath := filepath.Join(dir, "h.db")
	oldSecret, _ := signature.ParseSecrets(legacySecret + "-old")
	delivered := make(chan string, 10)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		delivered <- string(body)
	}))
	defer app.Close()
	routes := func() []dispatch.Route {
		forward, err := httpdest.New(httpdest.Config{URL: app.URL})
		if err != nil {
			t.Fatal(err)
		}
		return []dispatch.Route{
			{Name: "forward", Destination: forward, Types: []string{"message.*"}},
			{Name: "templates", Destination: logdest.New(slog.New(slog.DiscardHandler)), Types: []string{"template.*"}},
		}
	}
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", AdminAddr: "off", Store: storePath, Secrets: oldSecret, Routes: routes()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	url := "http://" + srv.Addr() + "/webhooks/sent"
	r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": legacySecret}, "", "trigger", "message.failed", "--scheme", "legacy", "--to", url)
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "401") {
		t.Fatalf("expected a 401: exit %d\n%s", r.code, r.stdout)
	}
	if err := srv.Shutdown(); err != nil { // keeps the queued rejection
		t.Fatal(err)
	}

	vars := map[string]string{"HOOKLATCH_STORE": storePath}
	ls := run(t, vars, "", "rejections", "ls")
	if ls.code != 0 || !strings.Contains(ls.stdout, "no_match") {
		t.Fatalf("rejections ls: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
	}
	show := run(t, vars, "", "rejections", "show", "1")
	if show.code != 0 || !strings.Contains(show.stdout, "diagnosis:") || !strings.Contains(show.stdout, `"message_status":"FAILED"`) {
		t.Fatalf("rejections show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}

	// Still the wrong secret: nothing released, exit 1.
	vars["SENT_WEBHOOK_SECRET"] = legacySecret + "-old"
	rel := run(t, vars, "", "rejections", "release", "--all")
	if rel.code != cli.ExitFailed || !strings.Contains(rel.stdout, "0 released, 1 still failing") {
		t.Fatalf("release with the wrong secret: exit %d\n%s%s", rel.code, rel.stdout, rel.stderr)
	}
	// The right one: released into the store.
	vars["SENT_WEBHOOK_SECRET"] = legacySecret
	rel = run(t, vars, "", "rejections", "release", "--all")
	if rel.code != 0 || !strings.Contains(rel.stdout, "1 released, 0 still failing") {
		t.Fatalf("release: exit %d\n%s%s", rel.code, rel.stdout, rel.stderr)
	}
	st, err := sqlite.Open(ctx, storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ListEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Type != "message.failed" || evs[0].Scheme != "legacy" {
		t.Fatalf("events after release = %+v", evs)
	}
	ds, err := st.ListDeliveries(ctx, store.DeliveryFilter{EventID: evs[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Destination != "forward" || ds[0].Status != store.DeliveryPending {
		t.Fatalf("deliveries of the released event = %+v, want one pending to forward (message.* only)", ds)
	}
	st.Close()
	// The server, back with the right secret, delivers it.
	newSecret, _ := signature.ParseSecrets(legacySecret)
	srv, err = server.New(ctx, server.Config{Addr: "127.0.0.1:0", AdminAddr: "off", Store: storePath, Secrets: newSecret, Routes: routes()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-delivered:
		if !strings.Contains(body, `"message_status":"FAILED"`) {
			t.Errorf("delivered body = %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the released event was not delivered")
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlite.Open(ctx, storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Released once; a second release says so and stores nothing new.
	rel = run(t, vars, "", "rejections", "release", "1")
	if rel.code != 0 || !strings.Contains(rel.stdout, "already released") {
		t.Errorf("second release: exit %d\n%s", rel.code, rel.stdout)
	}
}

// A rejected request whose body was kept only in part is shown as such,
// counted with its reason, and never released: the kept part cannot be
// verified, and storing it as the event would store a body Sent never sent.
func TestRejectionKeptInPartIsNotReleased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	storePath := filepath.Join(t.TempDir(), "h.db")
	oldSecret, _ := signature.ParseSecrets(legacySecret + "-old")
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", AdminAddr: "off", Store: storePath, Secrets: oldSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// A valid event padded to 200 KB, signed with the secret the server
	// does not have yet.
	body := []byte(`{"field":"messages","payload":{"message_id":"m-1","message_status":"FAILED","pad":"` + strings.Repeat("x", 200<<10) + `"}}`)
	secret, _ := signature.ParseSecret(legacySecret)
	req, _ := http.NewRequest(http.MethodPost, "http://"+srv.Addr()+"/webhooks/sent", bytes.NewReader(body))
	for k, v := range signature.Sign(signature.Legacy, secret, body, signature.SignOptions{}) {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("answer %d, want 401", resp.StatusCode)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}

	vars := map[string]string{"HOOKLATCH_STORE": storePath, "SENT_WEBHOOK_SECRET": legacySecret}
	ls := run(t, vars, "", "rejections", "ls")
	if ls.code != 0 || !regexp.MustCompile(`(?m)^REASON +SOURCE +REJECTED +KEPT.*\n+no_match +sent +1 +1 `).MatchString(ls.stdout) ||
		!strings.Contains(ls.stdout, "200 KiB (kept in part)") {
		t.Errorf("rejections ls: exit %d\n%s%s", ls.code, ls.stdout, ls.stderr)
	}
	show := run(t, vars, "", "rejections", "show", "1")
	if show.code != 0 || !strings.Contains(show.stdout, "kept in part: it cannot be verified again or released") {
		t.Errorf("rejections show: exit %d\n%s%s", show.code, show.stdout, show.stderr)
	}
	rel := run(t, vars, "", "rejections", "release", "1")
	if rel.code != cli.ExitFailed || !strings.Contains(rel.stdout, "rejection 1: cannot be verified") {
		t.Errorf("release of a rejection kept in part: exit %d\n%s%s", rel.code, rel.stdout, rel.stderr)
	}
	rel = run(t, vars, "", "rejections", "release", "--all")
	if rel.code != 0 || !strings.Contains(rel.stdout, "0 released, 0 still failing, 1 cannot be verified (body kept in part)") {
		t.Errorf("release --all: exit %d\n%s%s", rel.code, rel.stdout, rel.stderr)
	}
	st, err := sqlite.Open(ctx, storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if evs, err := st.ListEvents(ctx, store.EventFilter{}); err != nil || len(evs) != 0 {
		t.Errorf("events after release = %d (%v), want none", len(evs), err)
	}
	lsJSON := run(t, vars, "", "rejections", "ls", "--json")
	var out struct {
		Counts     []store.RejectionCount `json:"counts"`
		Rejections []store.Rejection      `json:"rejections"`
	}
	if err := json.Unmarshal([]byte(lsJSON.stdout), &out); err != nil || len(out.Counts) != 1 || out.Counts[0].Count != 1 ||
		len(out.Rejections) != 1 || !out.Rejections[0].Truncated || out.Rejections[0].BodyBytes != int64(len(body)) {
		t.Errorf("rejections ls --json: %v\n%s", err, lsJSON.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"serve without a secret", []string{"serve"}, "SENT_WEBHOOK_SECRET"},
		{"unknown flag", []string{"sign", "--nope"}, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"unknown type", []string{"trigger", "message.teleported", "--print", "--secret", v1Secret}, "message.teleported"},
		{"bad scheme", []string{"sign", f1, "--secret", v1Secret, "--scheme", "v2"}, "--scheme"},
		{"bad secret", []string{"sign", f1, "--secret", "whsec_!!!"}, "secret"},
		{"bad max-body", []string{"serve", "--secret", v1Secret, "--max-body", "lots"}, "--max-body"},
		{"tiny wal-max", []string{"serve", "--secret", v1Secret, "--wal-max", "64KiB"}, "--wal-max"},
		{"bad forward scheme", []string{"serve", "--secret", v1Secret, "--forward-to", "http://127.0.0.1:1/", "--forward-scheme", "v2"}, "--forward-scheme"},
		{"public admin without token", []string{"serve", "--secret", v1Secret, "--admin-addr", "0.0.0.0:3001", "--addr", "127.0.0.1:0"}, "HOOKLATCH_ADMIN_TOKEN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, nil, "", c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, cli.ExitUsage, c.want)
			}
		})
	}
}

func TestBenchInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for a second")
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench.db")
	r := run(t, nil, "", "bench", "--duration", "1s", "--connections", "8", "--baseline", "--store", path)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Every request is a new event: a benchmark of duplicates would
	// measure a lookup, not ingest.
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if stats.Events == 0 || stats.Duplicates != 0 {
		t.Errorf("bench stored %d events and %d duplicates, want only new events", stats.Events, stats.Duplicates)
	}
	for _, want := range []string{"bare", "hooklatch", "of the bare handler's req/s", "hooklatch answers: 200×"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bench output lacks %q:\n%s", want, r.stdout)
		}
	}
	// Answers are listed as status×count; a bare "401" could be part of a count.
	if strings.Contains(r.stdout, "401×") || strings.Contains(r.stdout, "503×") {
		t.Errorf("bench saw non-2xx answers:\n%s", r.stdout)
	}
}

// bench --rate is open loop and forwards over HTTP: every event sent is
// answered and arrives at the receiver bench started, matched by event id.
func TestBenchOpenLoopForwards(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for a second")
	}
	t.Parallel()
	r := run(t, nil, "", "bench", "--rate", "100", "--duration", "1s", "--baseline")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"open loop at 100/s", "bare answers: 200×100", "hooklatch answers: 200×100",
		"receipt-to-delivery", "100 delivered", "0 not delivered, 0 unmatched"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bench output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// A config file names several destinations, each with its own types; the
// flags still beat it, and a misspelt key is an error, not a default.
func TestServeConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	got := make(chan string, 10)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sig, _, _ := strings.Cut(r.Header.Get("X-Webhook-Signature"), "=")
		got <- r.Header.Get("Hooklatch-Event-Type") + " " + sig
	}))
	defer app.Close()
	out := filepath.Join(dir, "exec-out")
	script := filepath.Join(dir, "handle.sh")
	syscall.ForkLock.Lock() // no parallel test's child may hold it open for writing (ETXTBSY)
	err := os.WriteFile(script, []byte("#!/bin/sh\ncat >> \""+out+"\"\necho >> \""+out+"\"\n"), 0o755)
	syscall.ForkLock.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(dir, "h.db")
	config := filepath.Join(dir, "hooklatch.yaml")
	os.WriteFile(config, []byte(`
addr: 127.0.0.1:1
store: `+storePath+`
admin_addr: "off"
secret: `+v1Secret+`
destinations:
  - name: app
    types: ["message.*"]
    http: {url: "`+app.URL+`", secret: "`+v1Secret+`", scheme: legacy}
  - name: script
    types: ["template.*"]
    timeout: 5s
    exec: {command: ["`+script+`"]}
`), 0o644)

	_, stop := startCLIServe(t, []string{"serve", "--config", config, "--log-level", "error"}, "message.sent", "template.approved")
	if typ := <-got; typ != "message.sent sha256" { // signed in the legacy scheme, as configured
		t.Errorf("the app got %q", typ)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), `"field":"templates"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the script never got the template event: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case typ := <-got:
		t.Errorf("the app also got %q, which its types exclude", typ)
	default:
	}
	stop()

	os.WriteFile(config, []byte("secrte: x\n"), 0o644)
	r := run(t, nil, "", "serve", "--config", config)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "secrte") {
		t.Errorf("misspelt key: exit %d, %s", r.code, r.stderr)
	}
}

// events show numbers a delivery's attempts across its life and labels
// the one that killed it, however many retries gave it a fresh budget.
func TestEventsShowCountsEveryAttempt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &store.NewEvent{EventData: store.EventData{ID: "01a00000-0000-7000-8000-000000000001", Source: "sent", DedupeKey: "k", Type: "message.sent",
		ReceivedAt: time.Now().UTC(), Body: []byte(`{}`)}, Destinations: []string{"app"}}
	if _, err := st.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	attempt := func(status store.DeliveryStatus, outcome store.AttemptOutcome) {
		t.Helper()
		now = now.Add(time.Minute)
		cs, err := st.Claim(ctx, store.ClaimParams{Owner: "w", Now: now, Lease: time.Second})
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim: %v %v", cs, err)
		}
		if err := st.Complete(ctx, store.Completion{DeliveryID: cs[0].Delivery.ID, Owner: "w", Status: status, NextAttemptAt: now,
			SpendAttempt: true, Now: now, Attempt: store.Attempt{StartedAt: now, Outcome: outcome}}); err != nil {
			t.Fatal(err)
		}
	}
	attempt(store.DeliveryPending, store.OutcomeTemporary)
	attempt(store.DeliveryDead, store.OutcomeDead)
	if _, err := st.Requeue(ctx, store.DeliverySelector{EventIDs: []string{ev.ID}}, now); err != nil {
		t.Fatal(err)
	}
	attempt(store.DeliveryPending, store.OutcomeTemporary)
	attempt(store.DeliverySucceeded, store.OutcomeSucceeded)
	st.Close()

	r := run(t, map[string]string{"HOOKLATCH_STORE": path}, "", "events", "show", ev.ID)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "succeeded, 4 attempts (2 counted against its budget)") {
		t.Errorf("delivery line does not count 4 attempts:\n%s", r.stdout)
	}
	for _, want := range []string{"#1 ", "#2 ", "#3 ", "#4 "} {
		if !strings.Contains(r.stdout, "  "+want) {
			t.Errorf("no attempt %s in:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`#2 \S+ +dead`).MatchString(r.stdout) {
		t.Errorf("the attempt that exhausted the budget is not labelled dead:\n%s", r.stdout)
	}
}

// A store on which no current serve recorded its destinations cannot say
// where a released event goes: release refuses, and keeps the rejection.
func TestReleaseRefusedWithoutRecordedRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := signature.ParseSecret(legacySecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","field":"messages","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"DELIVERED"}}`)
	headers := map[string]string{}
	for k, v := range signature.Sign(signature.Legacy, secret, body, signature.SignOptions{}) {
		headers[strings.ToLower(k)] = v[0]
	}
	if _, err := st.AddRejection(ctx, &store.Rejection{Source: "sent", ReceivedAt: time.Now(), Reason: "no_match",
		Headers: headers, Body: body, BodyBytes: int64(len(body))}, store.RejectionLimits{}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	r := run(t, map[string]string{"HOOKLATCH_STORE": path, "SENT_WEBHOOK_SECRET": legacySecret}, "", "rejections", "release", "--all")
	if r.code == 0 || !strings.Contains(r.stderr, "no record of where serve delivers") {
		t.Fatalf("release on a store without routes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if evs, err := st.ListEvents(ctx, store.EventFilter{}); err != nil || len(evs) != 0 {
		t.Errorf("events after a refused release = %v, %v; want none", evs, err)
	}
}
