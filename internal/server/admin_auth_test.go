package server_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/server"
)

// A token that anyone could guess is refused at start, with the way to
// make a good one.
func TestAdminTokenTooShortIsRefused(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"x", "fifteen-chars-x"} {
		srv, err := server.New(context.Background(), server.Config{
			Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: filepath.Join(t.TempDir(), "h.db"),
			Secrets: testSecrets(t), AdminToken: token, Logger: slog.New(slog.DiscardHandler),
		})
		if err == nil {
			srv.Shutdown()
		}
		if !errors.Is(err, server.ErrConfig) || !strings.Contains(err.Error(), "hooklatch token") {
			t.Errorf("token %q: %v, want a configuration error naming 'hooklatch token'", token, err)
		}
	}
}
