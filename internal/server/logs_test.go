package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// logLine is a line of serve's JSON log, with the attributes these tests
// read.
type logLine struct {
	Level         string `json:"level"`
	Msg           string `json:"msg"`
	Destination   string `json:"destination"`
	EventID       string `json:"event_id"`
	NextAttemptAt string `json:"next_attempt_at"`
	StatusCode    int    `json:"status_code"`
	Err           string `json:"err"`
	LastErr       string `json:"last_err"`
	Waiting       *int   `json:"waiting"`
	FailuresTotal int64  `json:"failures_total"`
	Lasted        string `json:"lasted"`
	URL           string `json:"url"`
	Store         string `json:"store"`
	Destinations  string `json:"destinations"`
	Dashboard     string `json:"dashboard"`
	Raw           string `json:"-"`
}

func logLines(t *testing.T, logs *logtest.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for s := range strings.Lines(logs.String()) {
		var l logLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("log line %q: %v", s, err)
		}
		l.Raw = s
		out = append(out, l)
	}
	return out
}

// waitLine polls the log until a line matches, and fails the test if none
// has by deadline.
func waitLine(t *testing.T, logs *logtest.Buffer, deadline time.Time, what string, match func(logLine) bool) logLine {
	t.Helper()
	for {
		for _, l := range logLines(t, logs) {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in the log by the deadline:\n%s", what, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// constantRetry retries after the same wait every time.
type constantRetry time.Duration

func (c constantRetry) NextRetry(int, error) time.Duration { return time.Duration(c) }

// While the app answers 500, serve logs a warning at the first failed
// attempt, naming the destination, the event, the status and when the
// next attempt is due; then summaries, with the deliveries waiting and
// the last error, never a line per attempt; and one info line when the
// app is back, saying how long it was down and how many attempts failed.
// No line holds the secret the app's URL carries. Alike on SQLite and
// PostgreSQL.
func TestFailingAppIsLoggedWhenItStartsLastsAndRecovers(t *testing.T) {
	t.Parallel()
	for name, location := range storeLocations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testFailingAppIsLogged(t, location(t))
		})
	}
}

// storeLocations give a test a fresh store of each backend.
var storeLocations = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "h.db") },
	"postgres": func(t *testing.T) string { return pgtest.URL(t) },
}

func testFailingAppIsLogged(t *testing.T, location string) {
	var down atomic.Bool
	down.Store(true)
	var calls atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			http.Error(w, "database down", http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	const secret = "s3cr3t-in-the-url"
	dest, err := httpdest.New(httpdest.Config{URL: app.URL + "/hooks?token=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "off", Store: location, Secrets: testSecrets(t),
		// Retries further apart than the second of quiet that ends an
		// outage, summaries closer.
		Routes:          []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: constantRetry(1100 * time.Millisecond)}}},
		FailureLogEvery: 300 * time.Millisecond,
		Logger:          slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	id := post(t, srv, messageBody("message.delivered", "m1"))
	sent := time.Now()
	first := waitLine(t, &logs, sent.Add(2*time.Second), "warning at the first failed attempt", func(l logLine) bool {
		return l.Level == "WARN" && l.Destination == "app" && strings.Contains(l.Msg, "failed")
	})
	if first.EventID != id || first.StatusCode != 500 || !strings.Contains(first.Err, "500") || first.NextAttemptAt == "" {
		t.Errorf("first warning = %s, want the event %s, status 500, its error and when the next attempt is due", first.Raw, id)
	}
	due, err := time.Parse(time.RFC3339Nano, first.NextAttemptAt)
	if err != nil || due.Before(sent) {
		t.Errorf("next_attempt_at %q: want the time of the next attempt (%v)", first.NextAttemptAt, err)
	}

	summary := waitLine(t, &logs, time.Now().Add(20*time.Second), "summary while the app fails", func(l logLine) bool {
		return l.Level == "WARN" && strings.Contains(l.Msg, "still fail")
	})
	if summary.Waiting == nil || *summary.Waiting != 1 || !strings.Contains(summary.Err, "500") || summary.Destination != "app" {
		t.Errorf("summary = %s, want one delivery waiting and the last error", summary.Raw)
	}

	down.Store(false)
	recovered := waitLine(t, &logs, time.Now().Add(20*time.Second), "line when the app recovers", func(l logLine) bool {
		return strings.Contains(l.Msg, "recovered")
	})
	failed := int64(calls.Load()) - 1
	if recovered.Level != "INFO" || recovered.FailuresTotal != failed || recovered.Lasted == "" || recovered.Destination != "app" {
		t.Errorf("recovery = %s, want an info line with how long it lasted and %d failed attempts", recovered.Raw, failed)
	}

	var started, perAttempt int
	for _, l := range logLines(t, &logs) {
		if l.Destination != "app" {
			continue
		}
		perAttempt++
		if strings.Contains(l.Msg, "failed; until one succeeds") {
			started++
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the secret of the app's URL:\n%s", logs.String())
	}
	if started != 1 {
		t.Errorf("%d warnings opening the outage, want 1\n%s", started, logs.String())
	}
	if failed >= 3 && perAttempt >= int(failed)+1 {
		t.Errorf("%d lines about the app for %d failed attempts: a line per attempt\n%s", perAttempt, failed, logs.String())
	}
}

// The start-up line says where webhooks are received, where they are
// kept, where each destination delivers (without the secrets of its URL,
// and its filter, if any) and where the dashboard is.
func TestStartupLineNamesStoreDestinationsAndDashboard(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-t0ken"
	dest, err := httpdest.New(httpdest.Config{URL: "http://hooklatch:" + secret + "-pw@127.0.0.1:9/hooks?token=" + secret + "&v=2"})
	if err != nil {
		t.Fatal(err)
	}
	only, err := filter.Compile(`status == "FAILED"`)
	if err != nil {
		t.Fatal(err)
	}
	// A target that is a URL and words: the words stay as they are.
	stream, err := redisdest.New(redisdest.Config{URL: "redis://:" + secret + "@127.0.0.1:9/0", Stream: "sent events"})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	for _, admin := range []string{"127.0.0.1:0", "off"} {
		var logs logtest.Buffer
		store := filepath.Join(t.TempDir(), "h.db")
		srv, err := server.New(context.Background(), server.Config{
			Addr: "127.0.0.1:0", AdminAddr: admin, Store: store, Secrets: testSecrets(t),
			Routes: []dispatch.Route{{Name: "app", Destination: dest}, {Name: "failed", Destination: dest, Filter: only},
				{Name: "workers", Destination: stream}},
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		srv.Shutdown()
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds the URL's secret:\n%s", logs.String())
		}
		line := waitLine(t, &logs, time.Now(), "start-up line", func(l logLine) bool { return strings.Contains(l.Msg, "receiving webhooks") })
		wantDashboard := "off"
		if admin != "off" {
			wantDashboard = "http://" + srv.AdminAddr() + "/ui/"
		}
		if line.Store != store || line.Dashboard != wantDashboard ||
			line.Destinations != "app: http http://hooklatch:xxxxx@127.0.0.1:9/hooks?token=xxxxx&v=2; "+
				`failed: http http://hooklatch:xxxxx@127.0.0.1:9/hooks?token=xxxxx&v=2, filter status == "FAILED"; `+
				"workers: redis redis://:xxxxx@127.0.0.1:9/0 stream sent events" {
			t.Errorf("start-up line = %s\nwant the store %s, the destination without its secrets and the dashboard %s", line.Raw, store, wantDashboard)
		}
	}
}

// post sends a signed webhook to srv and returns the event id answered.
func post(t *testing.T, srv *server.Server, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = signature.Sign(signature.V1, testSecrets(t)[0], body, signature.SignOptions{})
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("webhook answered %s", resp.Status)
	}
	return resp.Header.Get("Hooklatch-Event-Id")
}
