package cli_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
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

// Through the admin API, `events show` says which destinations' filters
// keep an event out.
func TestEventsShowSaysFilteredOut(t *testing.T) {
	t.Parallel()
	only, err := filter.Compile(`status == "FAILED"`)
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := signature.ParseSecrets(v1Secret)
	srv, err := server.New(context.Background(), server.Config{Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", AdminToken: adminToken,
		Store: filepath.Join(t.TempDir(), "h.db"), Secrets: secrets,
		Routes: []dispatch.Route{{Name: "failures", Destination: logdest.New(slog.New(slog.DiscardHandler)), Filter: only}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown() })
	s := &remoteServe{srv: srv}
	_, id := s.send(t, v1Secret, "evt_delivered") // a DELIVERED message event
	remote := map[string]string{"HOOKLATCH_ADMIN_URL": "http://" + srv.AdminAddr(), "HOOKLATCH_ADMIN_TOKEN": adminToken}
	if r := run(t, remote, "", "events", "show", id); r.code != 0 || !strings.Contains(r.stdout, "\nfiltered out by failures\n") {
		t.Errorf("events show: exit %d\n%s%s\nwant it filtered out by failures", r.code, r.stdout, r.stderr)
	}
	if r := run(t, remote, "", "events", "show", "--json", id); r.code != 0 || !strings.Contains(r.stdout, `"filtered_out": [`) {
		t.Errorf("events show --json: exit %d\n%s%s\nwant filtered_out", r.code, r.stdout, r.stderr)
	}
}
