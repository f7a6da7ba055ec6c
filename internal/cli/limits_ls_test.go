package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// destinations ls on the store shows each destination's rate limit and
// concurrency as the serving process recorded them: a concurrency that
// was configured holds over every instance (shared), the default is each
// instance's own.
func TestDestinationsListShowsLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	noop := destination.Func(func(context.Context, *destination.Delivery) error { return nil })
	err = dispatch.RecordRoutes(ctx, st, []dispatch.Route{
		{Name: "app", Destination: noop, Policy: dispatch.Policy{Rate: dispatch.Rate{Events: 50, Per: time.Second}, Concurrency: 4}},
		{Name: "log", Destination: noop},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, map[string]string{"HOOKLATCH_STORE": path}, "", "destinations", "ls")
	if r.code != 0 {
		t.Fatalf("destinations ls: exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(r.stdout, "\n")
	if !strings.Contains(lines[0], "RATE") || !strings.Contains(lines[0], "CONCURRENCY") {
		t.Errorf("no rate or concurrency column:\n%s", r.stdout)
	}
	for _, want := range [][]string{{"app", "50/s", "4 shared"}, {"log", "none", "16 per instance"}} {
		found := false
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) > 0 && f[0] == want[0] {
				found = true
				if !strings.Contains(l, " "+want[1]+" ") || !strings.Contains(l, " "+want[2]+" ") {
					t.Errorf("%s: want rate %s and concurrency %s: %q", want[0], want[1], want[2], l)
				}
			}
		}
		if !found {
			t.Errorf("no line for %s:\n%s", want[0], r.stdout)
		}
	}
	r = run(t, map[string]string{"HOOKLATCH_STORE": path}, "", "destinations", "ls", "--json")
	if !strings.Contains(r.stdout, `"rate": "50/s"`) || !strings.Contains(r.stdout, `"concurrency": 4,`) ||
		!strings.Contains(r.stdout, `"concurrency_shared": true`) || strings.Count(r.stdout, `"concurrency_shared"`) != 1 {
		t.Errorf("--json: %s", r.stdout)
	}
}
