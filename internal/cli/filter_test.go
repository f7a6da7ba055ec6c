package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// A filter with a mistake stops serve with a usage error before it opens
// (and so creates) its store.
func TestFilterMistakeStopsServeBeforeTheStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "hooklatch.yaml")
	yaml := "destinations:\n  - name: alerts\n    log: {}\n    filter: |\n      payload.channel == \"whatsapp\" &&\n        payload.message_status in [\"FAILED\" \"BLOCKED\"]\n"
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "events.db")
	r := run(t, nil, "", "serve", "--secret", v1Secret, "--addr", "127.0.0.1:0", "--admin-addr", "off", "--store", db, "--config", config)
	want := "destinations[0] (alerts): filter: 2:39: unexpected token String(\"BLOCKED\")"
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want exit %d with %q", r.code, r.stderr, cli.ExitUsage, want)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("the store was opened: %v", err)
	}
}
