package hooklatch_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/leaktest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

func noop(context.Context, *hooklatch.Event) error { return nil }

// getBody GETs url and returns its status and body.
func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// assertAdmin checks that base serves the admin API's stats, counting the
// events stored, and the metrics.
func assertAdmin(t *testing.T, base string, events int64) {
	t.Helper()
	code, body := getBody(t, base+"/v1/stats")
	var stats struct {
		Totals struct {
			Events int64 `json:"events"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(body), &stats); code != http.StatusOK || err != nil || stats.Totals.Events != events {
		t.Errorf("GET /v1/stats: %d %s, want 200 with %d events", code, body, events)
	}
	code, body = getBody(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "hooklatch_webhook_requests_total") {
		t.Errorf("GET /metrics: %d, want 200 with hooklatch's metrics:\n%.500s", code, body)
	}
}

// An embedded relay serves the admin API, the dashboard and the metrics
// on an address of its own while it runs, and stops serving them when Run
// returns.
func TestRelayServesAdminOnItsAddress(t *testing.T) {
	t.Parallel()
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		AdminAddr: "127.0.0.1:0",
		Handlers:  []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(noop)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(relay.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()

	msg, _ := event.Sample("message.delivered", event.SampleOptions{})
	post(t, srv.URL, msg)
	base := "http://" + relay.AdminAddr()
	assertAdmin(t, base, 1)
	if code, _ := getBody(t, base+"/ui/"); code != http.StatusOK {
		t.Errorf("GET /ui/: %d, want the dashboard", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the admin listener still answers after Run returned")
	}
	if err := relay.Close(); err != nil {
		t.Fatal(err)
	}
}

// Config.Admin builds the same handler for the application to mount.
func TestRelayAdminHandlerMounts(t *testing.T) {
	t.Parallel()
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		Admin:    true,
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(noop)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	hooks, admin := httptest.NewServer(relay.Handler()), httptest.NewServer(relay.AdminHandler())
	defer hooks.Close()
	defer admin.Close()
	msg, _ := event.Sample("message.delivered", event.SampleOptions{})
	post(t, hooks.URL, msg)
	assertAdmin(t, admin.URL, 1)

	plain, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "p.db"), Logger: slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(noop)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if plain.AdminHandler() != nil {
		t.Error("a relay without Admin or AdminAddr has an admin handler")
	}
}

// A relay whose admin address is taken fails New and leaves nothing of
// its own running, its store free for the next owner. (Not parallel: it
// counts goroutines.)
func TestRelayFailedStartLeavesNothingRunning(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path := filepath.Join(t.TempDir(), "h.db")
	before := len(leaktest.Stacks())
	_, err = hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: path, Logger: slog.New(slog.DiscardHandler),
		AdminAddr: taken.Addr().String(),
		Handlers:  []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(noop)}},
	})
	if err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("New = %v, want the admin listener's error", err)
	}
	if after := leaktest.Stacks(); len(after) > before {
		t.Errorf("%d of hooklatch's goroutines running, %d before New:\n%s", len(after), before, strings.Join(after, "\n\n"))
	}
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Exclusive: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the store still has an owner: %v", err)
	}
	st.Close()
}

// A relay's admin token is held to serve's minimum length.
func TestRelayRefusesShortAdminToken(t *testing.T) {
	_, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, Store: filepath.Join(t.TempDir(), "h.db"), Logger: slog.New(slog.DiscardHandler),
		Admin: true, AdminToken: "short",
		Handlers: []hooklatch.Route{{Name: "app", Handler: hooklatch.HandlerFunc(noop)}},
	})
	if err == nil || !strings.Contains(err.Error(), "Config.AdminToken has 5 characters: use at least 16") {
		t.Fatalf("New = %v, want the admin token refused as too short", err)
	}
}
