package cli_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// A destination paused while webhooks arrive holds them: Sent still gets
// its 200, the app receives none and no attempt is made; once resumed,
// the app receives every event exactly once, at the first attempt. On
// PostgreSQL, with two instances, a pause made through one holds the
// other's dispatcher too.
func TestPauseHoldsDeliveriesUntilResumed(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		location  func(t *testing.T) string
		instances int
	}{
		"sqlite":   {func(t *testing.T) string { return filepath.Join(t.TempDir(), "h.db") }, 1},
		"postgres": {func(t *testing.T) string { return pgtest.URL(t) }, 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			location := tc.location(t)
			var serves []*remoteServe
			for range tc.instances {
				serves = append(serves, startRemoteServe(t, location, a, v1Secret))
			}
			first, last := serves[0], serves[len(serves)-1]
			send := func(prefix string, n int) []string {
				var ids []string
				for i := range n {
					code, id := last.send(t, v1Secret, fmt.Sprintf("evt_%s_%d", prefix, i))
					if code != http.StatusOK || id == "" {
						t.Fatalf("send: %d %q", code, id)
					}
					ids = append(ids, id)
				}
				return ids
			}
			before := send("before", 3)
			waitFor(t, "the first events delivered", func() bool { return a.count(before[2]) == 1 })

			r := run(t, first.remote, "", "destinations", "pause", "forward")
			if r.code != 0 || !strings.HasPrefix(r.stdout, "forward: paused") {
				t.Fatalf("pause: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			for _, s := range serves {
				waitFor(t, "every dispatcher to see the pause", func() bool {
					return strings.Contains(metrics(t, s), `hooklatch_destination_state{destination="forward"} 1`)
				})
			}
			held := send("held", 20)
			d := listedDestination(t, first, "forward")
			if d.State != inspect.StatePaused || d.Pending != 20 || d.Oldest.IsZero() {
				t.Fatalf("paused with 20 events held: %+v", d)
			}
			for _, id := range held {
				if n := a.count(id); n != 0 {
					t.Fatalf("event %s reached the app %d times while its destination was paused", id, n)
				}
			}
			// The local store reads the same.
			if r := run(t, first.local, "", "destinations", "ls"); r.code != 0 || !strings.Contains(r.stdout, "paused since") {
				t.Fatalf("destinations ls on the store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}

			if r := run(t, first.remote, "", "destinations", "resume", "forward"); r.code != 0 {
				t.Fatalf("resume: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			waitFor(t, "the backlog delivered", func() bool {
				d := listedDestination(t, first, "forward")
				return d.Pending == 0 && a.count(held[len(held)-1]) == 1
			})
			for _, id := range append(before, held...) {
				if n := a.count(id); n != 1 {
					t.Errorf("event %s reached the app %d times, want once", id, n)
				}
				// The app answers before the attempt is recorded.
				var shown result
				waitFor(t, "event "+id+"'s attempt recorded", func() bool {
					shown = run(t, first.remote, "", "events", "show", id, "--json")
					return shown.code == 0 && strings.Contains(shown.stdout, `"succeeded"`)
				})
				if n := strings.Count(shown.stdout, `"outcome"`); n != 1 {
					t.Errorf("event %s: %d attempts recorded, want one\n%s", id, n, shown.stdout)
				}
			}
		})
	}
}

// listedDestination is one destination as destinations ls --json lists it.
func listedDestination(t *testing.T, s *remoteServe, name string) inspect.Destination {
	t.Helper()
	r := run(t, s.remote, "", "destinations", "ls", "--json")
	if r.code != 0 {
		t.Fatalf("destinations ls: exit %d\n%s", r.code, r.stderr)
	}
	var ds []inspect.Destination
	if err := json.Unmarshal([]byte(r.stdout), &ds); err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("destinations ls lists no %s: %s", name, r.stdout)
	return inspect.Destination{}
}

// metrics is the serve's Prometheus page.
func metrics(t *testing.T, s *remoteServe) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.adminURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
