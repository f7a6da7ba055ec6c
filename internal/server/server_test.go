package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return getWith(t, url, "")
}

// getWith GETs url with an Authorization header, unless it is empty.
func getWith(t *testing.T, url, authorization string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func testSecrets(t *testing.T) []signature.Secret {
	t.Helper()
	secrets, err := signature.ParseSecrets("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		t.Fatal(err)
	}
	return secrets
}

func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "h.db")
	cfg.Secrets, cfg.Logger = testSecrets(t), slog.New(slog.DiscardHandler)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	return srv
}

// With an admin token, every admin endpoint but /healthz wants it, on
// loopback too; the public listener is not the admin's to guard.
func TestAdminTokenIsRequired(t *testing.T) {
	t.Parallel()
	const token = "s3cret-admin-token"
	clk := clock.NewManual(time.Now())
	srv := start(t, server.Config{AdminToken: token, Clock: clk})
	admin := "http://" + srv.AdminAddr()

	for _, path := range []string{"/metrics", "/readyz", "/v1/events", "/anything", "//healthz", "/healthz/"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Bearer s3cret", token, "Basic " + token} {
			if code, body := getWith(t, admin+path, auth); code != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q = %d %s, want 401", path, auth, code, body)
			}
			clk.Advance(time.Minute) // past the limit on failed attempts
		}
	}
	if code, body := getWith(t, admin+"/metrics", "Bearer "+token); code != 200 || !strings.Contains(body, "hooklatch_webhook_ack_seconds") {
		t.Errorf("GET /metrics with the token = %d", code)
	}
	if code, _ := getWith(t, admin+"/readyz", "Bearer "+token); code != 200 {
		t.Errorf("GET /readyz with the token = %d", code)
	}
	if code, _ := get(t, admin+"/healthz"); code != 200 {
		t.Errorf("GET /healthz without a token = %d, want 200", code)
	}
	if code, _ := get(t, "http://"+srv.Addr()+"/readyz"); code != 200 {
		t.Errorf("public /readyz = %d, want 200 without a token", code)
	}
}

// /readyz writes to the store at most once a second, however many callers
// ask at once.
func TestReadinessWritesAtMostOnceASecond(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Now())
	srv := start(t, server.Config{Clock: clk})
	probes := func() string {
		_, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
		for line := range strings.Lines(body) {
			if v, ok := strings.CutPrefix(line, "hooklatch_readiness_probes_total "); ok {
				return strings.TrimSpace(v)
			}
		}
		return "absent"
	}
	hammer := func() {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 10 {
					if code, _ := get(t, "http://"+srv.Addr()+"/readyz"); code != 200 {
						t.Errorf("/readyz = %d", code)
					}
				}
			})
		}
		wg.Wait()
	}
	hammer()
	if got := probes(); got != "1" {
		t.Errorf("after 320 calls in one second: %s real writes, want 1", got)
	}
	clk.Advance(time.Second)
	hammer()
	if got := probes(); got != "2" {
		t.Errorf("after a second more: %s real writes, want 2", got)
	}
}

// Both listeners answer /healthz and /readyz; ready means the store takes a
// real write. Metrics are on the admin listener only.
func TestHealthReadinessMetrics(t *testing.T) {
	t.Parallel()
	secrets, err := signature.ParseSecrets("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewManual(time.Now())
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: filepath.Join(t.TempDir(), "h.db"),
		Secrets: secrets, Logger: slog.New(slog.DiscardHandler), Clock: clk,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	for _, base := range []string{"http://" + srv.Addr(), "http://" + srv.AdminAddr()} {
		if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
			t.Errorf("%s/healthz = %d %s", base, code, body)
		}
		if code, body := get(t, base+"/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
			t.Errorf("%s/readyz = %d %s", base, code, body)
		}
	}
	if code, body := get(t, "http://"+srv.AdminAddr()+"/metrics"); code != 200 || !strings.Contains(body, "hooklatch_webhook_ack_seconds") || !strings.Contains(body, "hooklatch_deliveries_in_flight") {
		t.Errorf("admin /metrics = %d, lacks hooklatch metrics", code)
	}
	if code, _ := get(t, "http://"+srv.Addr()+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics = %d, want 404", code)
	}

	// A store that cannot take writes is not ready (once the last probe's
	// answer has aged: at most one real write a second).
	srv.Store().Close()
	clk.Advance(time.Second)
	if code, body := get(t, "http://"+srv.Addr()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed = %d %s", code, body)
	}
}
