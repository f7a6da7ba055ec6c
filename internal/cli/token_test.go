package cli_test

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// token prints a fresh random token, long enough for the admin listener,
// different every time.
func TestTokenPrintsAFreshToken(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 2 {
		r := run(t, nil, "", "token")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		tok := strings.TrimSuffix(r.stdout, "\n")
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: want 32 bytes in base64url (%v)", tok, err)
		}
		if seen[tok] {
			t.Fatalf("token %q printed twice", tok)
		}
		seen[tok] = true
	}
}

// serve refuses an admin token anyone could guess, before it opens
// anything, and says how to make a good one.
func TestServeRefusesAShortAdminToken(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HOOKLATCH_ADMIN_TOKEN": "short"}
	store := filepath.Join(t.TempDir(), "missing", "dir", "h.db")
	r := run(t, vars, "", "serve", "--secret", v1Secret, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--store", store)
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "hooklatch token") {
		t.Errorf("exit %d, stderr %q; want exit %d naming 'hooklatch token'", r.code, r.stderr, cli.ExitUsage)
	}
}
