package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Two samplers on one store, as a restart mid-minute or two instances
// sharing a PostgreSQL schema have: each writes the minutes that ended,
// the last one's too when it stops, and reads the others' back; every
// count is served once, summed by minute.
func TestHistoryAddsUpAcrossSamplersSharingAStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := func(m, s int) time.Time { return time.Date(2026, 1, 2, 10, m, s, 0, time.UTC) }
	show := func(s *stats, now time.Time) string {
		out := ""
		for _, m := range s.report(now) {
			out += fmt.Sprintf("%s:%d ", m.Start.Format("15:04"), m.Received)
		}
		return out
	}
	flush := func(s *stats, now time.Time, final bool) {
		t.Helper()
		if err := s.flush(ctx, now, final); err != nil {
			t.Fatal(err)
		}
	}
	a, b := &stats{st: st}, &stats{st: st}
	a.minutes = []Minute{{Start: at(0, 0), Received: 2}, {Start: at(1, 0), Received: 1}}
	b.minutes = []Minute{{Start: at(1, 0), Received: 5}}

	flush(a, at(1, 30), false) // writes 10:00, keeps 10:01 under way
	if got := show(a, at(1, 30)); got != "10:00:2 10:01:1 " {
		t.Fatalf("a after writing 10:00: %s", got)
	}
	flush(b, at(1, 40), false) // writes nothing yet, reads 10:00
	if got := show(b, at(1, 40)); got != "10:00:2 10:01:5 " {
		t.Fatalf("b after reading the store: %s", got)
	}
	flush(a, at(1, 50), true) // a stops: writes the minute under way
	flush(b, at(2, 10), false)
	if got := show(b, at(2, 10)); got != "10:00:2 10:01:6 " {
		t.Fatalf("b after both wrote 10:01: %s", got)
	}
	// An hour on, 10:00 is gone from the store and from what is served.
	b.minutes = []Minute{{Start: at(59, 0), Received: 1}}
	flush(b, at(0, 10).Add(time.Hour), false)
	if got := show(b, at(0, 10).Add(time.Hour)); got != "10:01:6 10:59:1 " {
		t.Fatalf("b an hour on: %s", got)
	}
	if ms, err := st.Minutes(ctx, time.Time{}); err != nil || len(ms) != 2 {
		t.Fatalf("the store keeps %d minutes (%v), want 2", len(ms), err)
	}
}
