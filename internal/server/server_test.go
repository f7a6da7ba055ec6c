package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Both listeners answer /healthz and /readyz; ready means the store takes a
// real write. Metrics are on the admin listener only.
func TestHealthReadinessMetrics(t *testing.T) {
	t.Parallel()
	secrets, err := signature.ParseSecrets("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: filepath.Join(t.TempDir(), "h.db"),
		Secrets: secrets, Logger: slog.New(slog.DiscardHandler),
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

	// A store that cannot take writes is not ready.
	srv.Store().Close()
	if code, body := get(t, "http://"+srv.Addr()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed = %d %s", code, body)
	}
}
