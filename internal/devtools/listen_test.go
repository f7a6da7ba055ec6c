package devtools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// listenOtherSecret signs requests that must be rejected.
const listenOtherSecret = "whsec_b3RoZXItc2VjcmV0LW9mLWVub3VnaC1sZW5ndGgtMTIz"

// listenOutput collects a Listener's output and wakes waiters on every
// write. hold makes the next write wait until release, to stall the printer.
type listenOutput struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed on the next write
	gate    chan struct{}
	entered chan struct{}
}

func newListenOutput() *listenOutput {
	return &listenOutput{changed: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (w *listenOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	gate := w.gate
	w.mu.Unlock()
	if gate != nil {
		select {
		case w.entered <- struct{}{}:
		default:
		}
		<-gate
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	close(w.changed)
	w.changed = make(chan struct{})
	return len(p), nil
}

func (w *listenOutput) hold() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gate = make(chan struct{})
}

func (w *listenOutput) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.gate)
	w.gate = nil
}

func (w *listenOutput) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *listenOutput) lines() []string { return strings.Split(w.String(), "\n") }

// waitFor waits for a line at or after index from that contains every
// part, and returns its index. It fails the test if the output stops
// changing without one (the guard against a hang is generous; it is not
// a measure of speed).
func (w *listenOutput) waitFor(t *testing.T, from int, parts ...string) int {
	t.Helper()
	guard := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		text, changed := w.buf.String(), w.changed
		w.mu.Unlock()
		lines := strings.Split(text, "\n")
	next:
		for i := from; i < len(lines); i++ {
			for _, p := range parts {
				if !strings.Contains(lines[i], p) {
					continue next
				}
			}
			return i
		}
		select {
		case <-changed:
		case <-guard:
			t.Fatalf("no line with %q from line %d of the output:\n%s", parts, from, text)
		}
	}
}

// listenRun is a Listener running in the background.
type listenRun struct {
	l    *Listener
	out  *listenOutput
	stop func() error // cancels Run and returns its error
}

// startListener runs a Listener on 127.0.0.1:0 with the fixture secret,
// plain output in UTC, until stop or the end of the test.
func startListener(t *testing.T, cfg ListenConfig) *listenRun {
	t.Helper()
	out := newListenOutput()
	cfg.Out = out
	cfg.Location = time.UTC
	if cfg.Server.Addr == "" {
		cfg.Server.Addr = "127.0.0.1:0"
	}
	if cfg.Server.Store == "" {
		cfg.Server.Store = filepath.Join(t.TempDir(), "listen.db")
	}
	cfg.Server.Secrets = []signature.Secret{listenSecret(t)}
	cfg.Server.Logger = slog.New(slog.DiscardHandler)
	l, err := NewListener(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	select {
	case <-l.Started():
	case err := <-done:
		cancel()
		t.Fatalf("listener did not start: %v", err)
	}
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() { stop() })
	return &listenRun{l: l, out: out, stop: stop}
}

func listenSecret(t *testing.T) signature.Secret {
	t.Helper()
	s, err := signature.ParseSecret(fixtureSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func listenSample(t *testing.T, s Samples) *Request {
	t.Helper()
	reqs, err := s.Build()
	if err != nil {
		t.Fatal(err)
	}
	return reqs[0]
}

// deliver posts r signed by signer at now and returns the answer and the
// event id it names.
func listenPost(t *testing.T, url string, signer Signer, r *Request, now time.Time) (Answer, string) {
	t.Helper()
	a := Post(context.Background(), http.DefaultClient, url, signer.Header(r, now), bytes.NewReader(r.Body))
	if a.Err != nil {
		t.Fatalf("%s: %v", r.Name, a.Err)
	}
	var ack struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(a.Body, &ack)
	return a, ack.EventID
}

func listenSubject(t *testing.T, r *Request) string {
	t.Helper()
	env, err := event.Parse(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return env.Subject().ID
}

func TestListenPrintsEveryRequest(t *testing.T) {
	t.Parallel()
	run := startListener(t, ListenConfig{})
	url := run.l.URL()
	v1 := Signer{Scheme: signature.V1, Secret: listenSecret(t)}
	now := time.Now()

	delivered := listenSample(t, Samples{Types: []string{"message.delivered"}})
	a, id := listenPost(t, url, v1, delivered, now)
	if a.StatusCode != 200 {
		t.Fatalf("new event: %s %s", a.Status, a.Body)
	}
	// Sent's retry of the same event: the same event id, signed afresh.
	if a, dupID := listenPost(t, url, v1, delivered, now.Add(time.Second)); a.StatusCode != 200 || dupID != id {
		t.Fatalf("duplicate: %s %s", a.Status, a.Body)
	}
	other, err := signature.ParseSecret(listenOtherSecret)
	if err != nil {
		t.Fatal(err)
	}
	forged := listenSample(t, Samples{Types: []string{"message.sent"}})
	if a, _ := listenPost(t, url, Signer{Scheme: signature.V1, Secret: other}, forged, now); a.StatusCode != 401 {
		t.Fatalf("bad signature: %s", a.Status)
	}
	unknown := listenSample(t, Samples{Types: []string{"message.delivered"}, Sets: []string{"sub_type=message.teleported"}})
	a, unknownID := listenPost(t, url, v1, unknown, now)
	if a.StatusCode != 200 {
		t.Fatalf("unknown type: %s %s", a.Status, a.Body)
	}
	legacy := listenSample(t, Samples{Types: []string{"message.read"}, Legacy: true})
	a, legacyID := listenPost(t, url, Signer{Scheme: signature.Legacy, Secret: listenSecret(t)}, legacy, now)
	if a.StatusCode != 200 {
		t.Fatalf("legacy: %s %s", a.Status, a.Body)
	}
	stale := listenSample(t, Samples{Types: []string{"message.sent"}})
	if a, _ := listenPost(t, url, v1, stale, now.Add(-10*time.Minute)); a.StatusCode != 401 {
		t.Fatalf("stale: %s", a.Status)
	}

	out := run.out
	i := out.waitFor(t, 0, "✓ v1", "message.delivered", "msg "+listenSubject(t, delivered)[:8], "DELIVERED", shortEventID(id), "new")
	i = out.waitFor(t, i+1, "✓ v1", "message.delivered", "DELIVERED", shortEventID(id), "duplicate")
	i = out.waitFor(t, i+1, "✗ no_match", "401")
	if j := out.waitFor(t, i+1, "↳ ", "secret"); j != i+1 {
		t.Errorf("the diagnosis is not right under the rejection: %q", out.lines()[i+1:j+1])
	}
	i = out.waitFor(t, i+1, "✓ v1", "message.teleported", shortEventID(unknownID), "new", "⚠ unknown type")
	i = out.waitFor(t, i+1, "✓ legacy", "message.read", "READ", shortEventID(legacyID), "new")
	out.waitFor(t, i+1, "✗ stale_timestamp", "401", "old")

	events, err := run.l.Store().ListEvents(context.Background(), store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Errorf("store holds %d events, want 3 (new, unknown type, legacy)", len(events))
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "stopped after 6 requests: 3 new, 1 duplicate, 2 rejected; 1 needs attention\n") {
		t.Errorf("summary missing or wrong:\n%s", text)
	}
	if strings.Contains(text, "\x1b[") {
		t.Errorf("plain output has colour codes:\n%q", text)
	}
	if !strings.Contains(text, "forwarding  none") || !strings.Contains(text, "hooklatch trigger message.delivered --to "+url) {
		t.Errorf("banner does not say where it listens and how to try it:\n%s", text)
	}
}

func TestListenColour(t *testing.T) {
	t.Parallel()
	run := startListener(t, ListenConfig{Color: true})
	listenPost(t, run.l.URL(), Signer{Scheme: signature.V1, Secret: listenSecret(t)}, listenSample(t, Samples{Types: []string{"message.sent"}}), time.Now())
	run.out.waitFor(t, 0, "\x1b[32m✓ v1", "\x1b[1mmessage.sent")
}

// listenApp is the app under development: it verifies Sent's v1 signature with
// the fixture secret and answers from its script (the last status repeats).
type listenApp struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	bodies [][]byte
}

func newListenApp(t *testing.T, script ...int) *listenApp {
	t.Helper()
	return newListenAppFor(t, signature.V1, script...)
}

// newListenAppFor is an app that verifies only the given scheme, as one
// written from Sent's documents for one of its endpoints would.
func newListenAppFor(t *testing.T, scheme signature.Scheme, script ...int) *listenApp {
	t.Helper()
	v, err := signature.NewVerifier(signature.Config{Secrets: []signature.Secret{listenSecret(t)}, Schemes: []signature.Scheme{scheme}})
	if err != nil {
		t.Fatal(err)
	}
	a := &listenApp{script: script}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "bad signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
		a.mu.Lock()
		a.bodies = append(a.bodies, body)
		status := a.script[0]
		if len(a.script) > 1 {
			a.script = a.script[1:]
		}
		a.mu.Unlock()
		if status != 200 {
			http.Error(w, "handler failed", status)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *listenApp) answer(script ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.script = script
}

func (a *listenApp) received() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([][]byte(nil), a.bodies...)
}

// listenQuickRetry retries after a millisecond, so tests do not wait out a
// backoff.
var listenQuickRetry = dispatch.Backoff{Initial: time.Millisecond, Max: time.Millisecond}

func listenForwarding(to string, attempts int) ListenConfig {
	return ListenConfig{ForwardTo: to, ForwardAttempts: attempts, ForwardRetry: listenQuickRetry}
}

// An app that checks legacy signatures, as the handlers in Sent's
// development guide do, verifies what listen forwards: each event is signed
// as it arrived, or all in legacy with ForwardScheme.
func TestListenForwardsToALegacyApp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		forward, arrived signature.Scheme
	}{
		{"", signature.Legacy}, // as received, the default
		{signature.Legacy, signature.V1},
	} {
		app := newListenAppFor(t, signature.Legacy, 200)
		cfg := listenForwarding(app.URL, 1)
		cfg.ForwardSecret, cfg.ForwardScheme = listenSecret(t), tc.forward
		run := startListener(t, cfg)
		r := listenSample(t, Samples{Types: []string{"message.delivered"}, Legacy: tc.arrived == signature.Legacy})
		_, id := listenPost(t, run.l.URL(), Signer{Scheme: tc.arrived, Secret: listenSecret(t)}, r, time.Now())
		i := run.out.waitFor(t, 0, shortEventID(id), "new")
		if j := run.out.waitFor(t, i+1, "→ "); !strings.Contains(run.out.lines()[j], "200 OK") {
			t.Errorf("forward scheme %q, event signed %s: the legacy app answered %q", tc.forward, tc.arrived, run.out.lines()[j])
		}
		if got := app.received(); len(got) != 1 || !bytes.Equal(got[0], r.Body) {
			t.Errorf("the app got %d verified requests, want the event", len(got))
		}
	}
}

// An app written from Sent's guide, which verifies legacy signatures only,
// refuses the v1 events listen forwards as received: listen names
// --forward-scheme legacy in its hint, once however many are refused.
func TestListenHintsTheLegacyForwardScheme(t *testing.T) {
	t.Parallel()
	app := newListenAppFor(t, signature.Legacy, 200)
	cfg := listenForwarding(app.URL, 1)
	cfg.ForwardSecret = listenSecret(t)
	run := startListener(t, cfg)
	var last int
	for range 2 {
		r := listenSample(t, Samples{Types: []string{"message.delivered"}})
		_, id := listenPost(t, run.l.URL(), Signer{Scheme: signature.V1, Secret: listenSecret(t)}, r, time.Now())
		i := run.out.waitFor(t, 0, shortEventID(id), "new")
		last = run.out.waitFor(t, i+1, "→ ", "401")
	}
	hints := 0
	lines := run.out.lines()
	for _, line := range lines[:min(last+2, len(lines))] {
		if strings.Contains(line, "--forward-scheme legacy") {
			hints++
		}
	}
	if hints != 1 {
		t.Errorf("%d lines name --forward-scheme legacy, want 1:\n%s", hints, strings.Join(run.out.lines(), "\n"))
	}
}

func TestListenForwardsAndPrintsTheAnswers(t *testing.T) {
	t.Parallel()
	app := newListenApp(t, 500, 200)
	cfg := listenForwarding(app.URL, 3)
	cfg.ForwardSecret = listenSecret(t)
	run := startListener(t, cfg)
	r := listenSample(t, Samples{Types: []string{"message.delivered"}})
	_, id := listenPost(t, run.l.URL(), Signer{Scheme: signature.V1, Secret: listenSecret(t)}, r, time.Now())

	out := run.out
	out.waitFor(t, 0, "forwarding  "+app.URL, "signed as received (v1 or legacy) with secret fp")
	i := out.waitFor(t, 0, "message.delivered", shortEventID(id), "new")
	i = out.waitFor(t, i+1, "→ 500 Internal Server Error", "will retry in", "(attempt 1 of 3): handler failed")
	out.waitFor(t, i+1, "→ 200 OK")
	if got := app.received(); len(got) != 2 || !bytes.Equal(got[1], r.Body) {
		t.Errorf("the app got %d requests, want 2 carrying the event's body byte for byte", len(got))
	}
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	if dls := listenDeliveries(t, run.l.cfg.Server.Store, id); len(dls) != 1 || dls[0].Status != store.DeliverySucceeded || dls[0].Attempts != 2 {
		t.Errorf("deliveries = %+v, want one succeeded after 2 attempts", dls)
	}
	if !strings.Contains(out.String(), "forwarding: 1 delivered, 1 failed attempt, 0 dead") {
		t.Errorf("summary:\n%s", out.String())
	}

	// --replay with the full id requeues the delivery that succeeded.
	cfg.Server.Store = run.l.cfg.Server.Store
	cfg.Replay = []string{id}
	again := startListener(t, cfg)
	again.out.waitFor(t, 0, "replay", "1 event queued", shortEventID(id))
	i = again.out.waitFor(t, 0, "message.delivered", shortEventID(id), "replay")
	again.out.waitFor(t, i+1, "→ 200 OK")
	if got := app.received(); len(got) != 3 {
		t.Errorf("the app got %d requests, want 3", len(got))
	}
}

func TestListenReplaysDeadDeliveries(t *testing.T) {
	t.Parallel()
	app := newListenApp(t, 500)
	cfg := listenForwarding(app.URL, 2)
	cfg.ForwardSecret = listenSecret(t)
	run := startListener(t, cfg)
	_, id := listenPost(t, run.l.URL(), Signer{Scheme: signature.V1, Secret: listenSecret(t)}, listenSample(t, Samples{Types: []string{"message.failed"}}), time.Now())
	i := run.out.waitFor(t, 0, "message.failed", shortEventID(id), "new")
	i = run.out.waitFor(t, i+1, "→ 500 Internal Server Error", "will retry in", "(attempt 1 of 2)")
	run.out.waitFor(t, i+1, "→ 500 Internal Server Error", "dead after 2 attempts; replay with --replay "+shortEventID(id))
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	// The app is fixed; --replay-failed delivers the dead one.
	app.answer(200)
	cfg.Server.Store = run.l.cfg.Server.Store
	cfg.ReplayFailed = true
	again := startListener(t, cfg)
	again.out.waitFor(t, 0, "1 dead delivery queued for "+app.URL)
	i = again.out.waitFor(t, 0, "message.failed", shortEventID(id), "replay")
	again.out.waitFor(t, i+1, "→ 200 OK")
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	if dls := listenDeliveries(t, cfg.Server.Store, id); len(dls) != 1 || dls[0].Status != store.DeliverySucceeded {
		t.Errorf("deliveries = %+v, want the one succeeded", dls)
	}

	// Nothing is dead any more: it says so rather than nothing.
	third := startListener(t, cfg)
	third.out.waitFor(t, 0, "no dead deliveries to replay")
}

func TestListenReplaysAnEventStoredWithoutForwarding(t *testing.T) {
	t.Parallel()
	run := startListener(t, ListenConfig{})
	r := listenSample(t, Samples{Types: []string{"template.approved"}})
	_, id := listenPost(t, run.l.URL(), Signer{Scheme: signature.V1, Secret: listenSecret(t)}, r, time.Now())
	run.out.waitFor(t, 0, shortEventID(id), "new")
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	app := newListenApp(t, 200)
	cfg := listenForwarding(app.URL, 3)
	cfg.ForwardSecret = listenSecret(t)
	cfg.Server.Store = run.l.cfg.Server.Store
	cfg.Replay = []string{shortEventID(id)} // the id as listen printed it
	again := startListener(t, cfg)
	again.out.waitFor(t, 0, "1 event queued", shortEventID(id))
	i := again.out.waitFor(t, 0, shortEventID(id), "replay")
	again.out.waitFor(t, i+1, "→ 200 OK")
	if got := app.received(); len(got) != 1 || !bytes.Equal(got[0], r.Body) {
		t.Errorf("the app got %d requests, want the stored event once", len(got))
	}
	if err := again.stop(); err != nil {
		t.Fatal(err)
	}
	if dls := listenDeliveries(t, cfg.Server.Store, id); len(dls) != 1 || dls[0].Status != store.DeliverySucceeded {
		t.Errorf("deliveries = %+v, want the added one, succeeded", dls)
	}
}

func TestListenConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := func() ListenConfig {
		return ListenConfig{Out: io.Discard, Server: listenServerConfig(t, filepath.Join(dir, "l.db"))}
	}
	tests := []struct {
		name string
		cfg  func() ListenConfig
		want string
	}{
		{"replay without forwarding", func() ListenConfig { c := base(); c.Replay = []string{"abc"}; return c }, "--forward-to"},
		{"replay-failed without forwarding", func() ListenConfig { c := base(); c.ReplayFailed = true; return c }, "--forward-to"},
		{"unknown event", func() ListenConfig {
			c := base()
			c.ForwardTo, c.Replay = "http://127.0.0.1:9/hook", []string{"deadbeef"}
			return c
		}, "no such event"},
		{"bad forward URL", func() ListenConfig { c := base(); c.ForwardTo = "ftp://x"; return c }, "--forward-to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewListener(context.Background(), tt.cfg())
			if !errors.Is(err, ErrListenConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an ErrListenConfig saying %q", err, tt.want)
			}
		})
	}
}

func TestListenDropsLinesRatherThanWait(t *testing.T) {
	t.Parallel()
	run := startListener(t, ListenConfig{Queue: 1})
	url := run.l.URL()
	v1 := Signer{Scheme: signature.V1, Secret: listenSecret(t)}
	send := func() string {
		a, id := listenPost(t, url, v1, listenSample(t, Samples{Types: []string{"message.queued"}}), time.Now())
		if a.StatusCode != 200 {
			t.Fatalf("%s %s", a.Status, a.Body)
		}
		return id
	}

	run.out.hold()
	first := send()
	<-run.out.entered // the printer is stuck writing the first line
	second := send()  // queued
	send()            // dropped: the queue is full
	send()            // dropped
	run.out.release()

	i := run.out.waitFor(t, 0, shortEventID(first), "new")
	i = run.out.waitFor(t, i+1, "… 2 lines not printed")
	run.out.waitFor(t, i+1, shortEventID(second), "new")
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(run.out.String(), "stopped after 4 requests: 4 new, 0 duplicates, 0 rejected; 2 lines not printed") {
		t.Errorf("summary:\n%s", run.out.String())
	}
	events, err := run.l.Store().ListEvents(context.Background(), store.EventFilter{})
	if err == nil {
		t.Errorf("store still open after Run returned (%d events)", len(events))
	}
}

func listenServerConfig(t *testing.T, path string) server.Config {
	return server.Config{Addr: "127.0.0.1:0", Store: path, Secrets: []signature.Secret{listenSecret(t)}}
}

// deliveries opens the store at path, once the Listener has closed it, and
// lists the deliveries of event id.
func listenDeliveries(t *testing.T, path, id string) []store.Delivery {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dls, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: id})
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// --json: every line on Out is one JSON object; the banner and summary go
// to Status.
func TestListenJSON(t *testing.T) {
	t.Parallel()
	app := newListenApp(t, 500, 200)
	status := newListenOutput()
	cfg := listenForwarding(app.URL, 3)
	cfg.ForwardSecret, cfg.JSON, cfg.Status = listenSecret(t), true, status
	run := startListener(t, cfg)
	v1 := Signer{Scheme: signature.V1, Secret: listenSecret(t)}
	r := listenSample(t, Samples{Types: []string{"message.delivered"}})
	_, id := listenPost(t, run.l.URL(), v1, r, time.Now())
	listenPost(t, run.l.URL(), v1, r, time.Now()) // a duplicate
	forged := Signer{Scheme: signature.V1, Secret: signature.NewSecret()}
	listenPost(t, run.l.URL(), forged, listenSample(t, Samples{Types: []string{"message.sent"}}), time.Now())
	run.out.waitFor(t, 0, `"kind":"forward"`, `"delivery":"succeeded"`)
	run.out.waitFor(t, 0, `"outcome":"rejected"`)
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	var recs []listenRecord
	for _, line := range run.out.lines() {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		var rec listenRecord
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("not a JSON record: %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	byKind := map[string][]listenRecord{}
	for _, rec := range recs {
		key := rec.Kind + " " + rec.Outcome
		byKind[key] = append(byKind[key], rec)
	}
	if a := byKind["request accepted"]; len(a) != 1 || a[0].EventID != id || a[0].Type != "message.delivered" || a[0].Status != "DELIVERED" || a[0].HTTPStatus != 200 {
		t.Errorf("accepted: %+v", a)
	}
	if d := byKind["request duplicate"]; len(d) != 1 || d[0].EventID != id {
		t.Errorf("duplicate: %+v", d)
	}
	if rj := byKind["request rejected"]; len(rj) != 1 || rj[0].Reason != "no_match" || rj[0].HTTPStatus != 401 || rj[0].Diagnosis == "" {
		t.Errorf("rejected: %+v", rj)
	}
	f := byKind["forward "]
	if len(f) != 2 || f[0].Delivery != "pending" || f[0].AppStatus != 500 || f[0].NextAttemptAt == nil || f[0].Attempt != 1 ||
		f[1].Delivery != "succeeded" || f[1].AppStatus != 200 || f[1].Attempt != 2 || f[1].EventID != id {
		t.Errorf("forwards: %+v", f)
	}
	if st := status.String(); !strings.Contains(st, "hooklatch listen receiving Sent webhooks") || !strings.Contains(st, "stopped after 3 requests") {
		t.Errorf("status output:\n%s", st)
	}
}
