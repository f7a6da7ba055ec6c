package retention_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

var (
	_ retention.Pruner = (*postgres.Store)(nil)
	_ retention.Pruner = (*sqlite.Store)(nil)
)

const day = 24 * time.Hour

// prunable is a store that prunes itself.
type prunable interface {
	store.Store
	retention.Pruner
}

func TestPrunePostgres(t *testing.T) {
	t.Parallel()
	s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testPrune(t, s)
}

func TestPruneSQLite(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testPrune(t, s)
}

// On a virtual clock: events past the retention whose deliveries are
// final are pruned with their deliveries and attempts, the others kept
// (pending, in flight, dead, recent); a pruned event's key and body still
// meet a replay as a duplicate of it, until the kept keys age out a
// period later.
func testPrune(t *testing.T, s prunable) {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-40 * day)

	add := func(key string, at time.Time, dests ...string) *store.NewEvent {
		t.Helper()
		ev := storetest.NewEvent("sent", key)
		ev.ReceivedAt, ev.Destinations = at, dests
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	finish := func(at time.Time, status map[string]store.DeliveryStatus) {
		t.Helper()
		claims, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: at, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range claims {
			st, ok := status[c.Event.ID]
			if !ok {
				t.Fatalf("claimed %s", c.Event.DedupeKey)
			}
			if err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "w", Status: st, SpendAttempt: true, Now: at,
				Attempt: store.Attempt{StartedAt: at, Outcome: store.OutcomePermanent}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := add("old-done", old, "app")
	bare := add("old-bare", old)
	dead := add("old-dead", old, "app")
	finish(old, map[string]store.DeliveryStatus{done.ID: store.DeliverySucceeded, dead.ID: store.DeliveryDead})
	inFlight := add("old-in-flight", old, "app") // claimed, its outcome never recorded
	if claims, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: old, Lease: 60 * day}); err != nil || len(claims) != 1 {
		t.Fatalf("claim = %d, %v; want the one left in flight", len(claims), err)
	}
	pending := add("old-pending", old, "app") // due again
	recent := add("recent", now.Add(-day), "app")
	finish(now.Add(-day), map[string]store.DeliveryStatus{recent.ID: store.DeliverySucceeded, pending.ID: store.DeliverySucceeded})
	if _, err := s.Requeue(ctx, store.DeliverySelector{EventIDs: []string{pending.ID}}, old); err != nil {
		t.Fatal(err)
	}
	doneDeliveries, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: done.ID})
	if err != nil || len(doneDeliveries) != 1 {
		t.Fatalf("deliveries of %s = %v, %v", done.DedupeKey, doneDeliveries, err)
	}
	if as, err := s.ListAttempts(ctx, doneDeliveries[0].ID); err != nil || len(as) != 1 {
		t.Fatalf("attempts of %s = %v, %v; want one", done.DedupeKey, as, err)
	}

	clk := clock.NewManual(now)
	r, err := retention.New(retention.Config{Store: s, Clock: clk, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := r.Prune(ctx)
	if err != nil || events != 2 {
		t.Fatalf("prune = %d events, %v; want 2 (the done one and the one with no delivery)", events, err)
	}
	for _, ev := range []*store.NewEvent{done, bare} {
		if _, err := s.GetEvent(ctx, ev.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s kept past the retention: %v", ev.DedupeKey, err)
		}
	}
	for _, ev := range []*store.NewEvent{dead, pending, inFlight, recent} {
		if _, err := s.GetEvent(ctx, ev.ID); err != nil {
			t.Errorf("%s pruned: %v", ev.DedupeKey, err)
		}
	}
	if ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: done.ID}); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a pruned event: %v, %v", ds, err)
	}
	if as, err := s.ListAttempts(ctx, doneDeliveries[0].ID); err != nil || len(as) != 0 {
		t.Errorf("attempts of a pruned event: %v, %v", as, err)
	}

	// Exactly once all the same: by key and by body.
	again := storetest.NewEvent("sent", "old-done")
	if res, err := s.Append(ctx, again); err != nil || !res.Duplicate || res.EventID != done.ID {
		t.Errorf("the pruned event's key again = %+v, %v; want a duplicate of %s", res, err, done.ID)
	}
	replay := storetest.NewEvent("sent", "forged")
	replay.Body = done.Body
	if res, err := s.Append(ctx, replay); err != nil || !res.Duplicate || res.EventID != done.ID {
		t.Errorf("the pruned event's body again = %+v, %v; want a duplicate of %s", res, err, done.ID)
	}

	// Dead ones go only with their own, explicit, retention.
	r, err = retention.New(retention.Config{Store: s, Clock: clk, RetentionDead: 35 * day})
	if err != nil {
		t.Fatal(err)
	}
	if events, _, err := r.Prune(ctx); err != nil || events != 1 {
		t.Errorf("prune with --retention-dead = %d events, %v; want the dead one", events, err)
	}

	// A period later the kept keys age out, and the key is new again.
	clk.Set(now.Add(21 * day))
	if _, keys, err := r.Prune(ctx); err != nil || keys != 3 {
		t.Errorf("keys pruned a period later = %d, %v; want 3", keys, err)
	}
	if res, err := s.Append(ctx, storetest.NewEvent("sent", "old-done")); err != nil || res.Duplicate {
		t.Errorf("the key after its keys aged out = %+v, %v; want a new event", res, err)
	}
}

func TestRetentionBelowADayRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ retention, dead time.Duration }{{23 * time.Hour, 0}, {0, time.Hour}} {
		if err := retention.Check(c.retention, c.dead); err == nil {
			t.Errorf("retention %s, dead %s accepted", c.retention, c.dead)
		}
	}
	if err := retention.Check(24*time.Hour, 0); err != nil {
		t.Errorf("24h refused: %v", err)
	}
}

// backfilling records the calls a pass makes to a store that has
// subjects' states to fill in before it prunes.
type backfilling struct {
	left  int // batches the backfill has left
	calls []string
}

func (b *backfilling) Prune(context.Context, time.Time, time.Time, time.Time, int) (int64, int64, error) {
	b.calls = append(b.calls, "prune")
	return 0, 0, nil
}

func (b *backfilling) OldestEvent(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

func (b *backfilling) BackfillSubjects(_ context.Context, limit int) (int64, bool, error) {
	b.calls = append(b.calls, "backfill")
	if b.left == 0 {
		return 0, true, nil
	}
	b.left--
	return int64(limit), b.left == 0, nil
}

// A pass fills in the subjects' states before it prunes, batch after
// batch until the store says it is done, and never asks again.
func TestPassFillsInSubjectsFirst(t *testing.T) {
	b := &backfilling{left: 3}
	r, err := retention.New(retention.Config{Store: b, Pause: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := r.Prune(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"backfill", "backfill", "backfill", "prune", "prune"}
	if !slices.Equal(b.calls, want) {
		t.Errorf("calls %v, want %v", b.calls, want)
	}
}

// behind is a store that has more to prune at every call, for left calls,
// each taking a minute of the clock, and keeps an event received at
// oldest.
type behind struct {
	clock  *clock.Manual
	left   int
	oldest time.Time
	gauge  func() float64 // the pass gauge, read at each call
	seen   []float64
}

func (b *behind) Prune(_ context.Context, _, _, _ time.Time, limit int) (int64, int64, error) {
	b.seen = append(b.seen, b.gauge())
	b.clock.Advance(time.Minute)
	if b.left == 0 {
		return 1, 0, nil
	}
	b.left--
	return int64(limit), 0, nil
}

func (b *behind) OldestEvent(context.Context) (time.Time, bool, error) { return b.oldest, true, nil }

// A pass that does not end says so while it runs: the pass gauge and the
// oldest event's age move every interval, an info line every five
// minutes, and one warning once it has run a quarter of an hour.
func TestLongPassReportsWhileItRuns(t *testing.T) {
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := clock.NewManual(start)
	metrics := retention.NewMetrics(nil)
	var logs logtest.Buffer
	b := &behind{clock: c, left: 20, oldest: start.Add(-31 * day),
		gauge: func() float64 { return testutil.ToFloat64(metrics.Pass) }}
	r, err := retention.New(retention.Config{Store: b, Clock: c, Batch: 10, Pause: time.Microsecond,
		Metrics: metrics, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	events, _, err := r.Prune(context.Background())
	if err != nil || events != 201 {
		t.Fatalf("pass = %d events, %v; want 201", events, err)
	}
	// The gauge as each call found it: the first call's pass had not
	// reported yet; the second's had run a minute.
	if b.seen[1] != 60 || b.seen[20] != 20*60 {
		t.Errorf("pass gauge during the pass %v; want 60 s at the 2nd call, 1200 s at the 21st", b.seen)
	}
	if got := testutil.ToFloat64(metrics.Pass); got != 21*60 {
		t.Errorf("pass gauge after the pass = %v s, want %v", got, 21*60)
	}
	if got, want := testutil.ToFloat64(metrics.OldestEvent), (31*day + 21*time.Minute).Seconds(); got != want {
		t.Errorf("oldest event age = %v s, want %v", got, want)
	}
	out := logs.String()
	var progress []string // how long the pass had run at each progress line
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `msg="retention: still pruning"`) {
			_, ran, _ := strings.Cut(line, " for=")
			ran, _, _ = strings.Cut(ran, " ")
			progress = append(progress, ran)
		}
	}
	if want := []string{"5m0s", "10m0s", "20m0s"}; !slices.Equal(progress, want) {
		t.Errorf("progress lines at %v, want %v:\n%s", progress, want, out)
	}
	if n := strings.Count(out, "level=WARN"); n != 1 || !strings.Contains(out, "a pass has run for 15m0s and events are still due") {
		t.Errorf("want one warning at 15 minutes:\n%s", out)
	}
	if !strings.Contains(out, `msg="retention: pruned" events=201`) {
		t.Errorf("no closing line:\n%s", out)
	}
}
