package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

var rowsT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func appendFor(t *testing.T, s store.Store, key string, dests ...string) *store.Event {
	t.Helper()
	ev := storetest.NewEvent("sent", key)
	ev.ReceivedAt, ev.Destinations = rowsT0, dests
	res, err := s.Append(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return storetest.Appended(ev, res)
}

func claimAll(t *testing.T, s store.Store, owner string, now time.Time) []store.Claim {
	t.Helper()
	cs, err := s.Claim(context.Background(), store.ClaimParams{Owner: owner, Now: now, Lease: time.Minute, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func complete(t *testing.T, s store.Store, c store.Claim, status store.DeliveryStatus, next time.Time) {
	t.Helper()
	outcome := store.OutcomeSucceeded
	if status != store.DeliverySucceeded {
		outcome = store.OutcomeTemporary
	}
	err := s.Complete(context.Background(), store.Completion{DeliveryID: c.Delivery.ID, Owner: c.Delivery.LeaseOwner,
		Status: status, NextAttemptAt: next, SpendAttempt: true, Now: rowsT0,
		Attempt: store.Attempt{StartedAt: rowsT0, Outcome: outcome}})
	if err != nil {
		t.Fatal(err)
	}
}

// rawCount counts rows of the file's own tables, behind the store's back.
func rawCount(t *testing.T, path, q string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Every delivery is a row from the moment its event is stored; one that
// fails waits for its retry and does not hold back the events after it:
// their first attempts are claimed and recorded meanwhile.
func TestFailureDoesNotHoldBackLaterEvents(t *testing.T) {
	t.Parallel()
	s, path := open(t, sqlite.Options{})
	var evs []*store.Event
	for i := range 10 {
		evs = append(evs, appendFor(t, s, fmt.Sprint("f", i), "app"))
	}
	if n := rawCount(t, path, `SELECT COUNT(*) FROM deliveries WHERE status = 'pending'`); n != 10 {
		t.Fatalf("%d pending delivery rows after storing 10 events: want 10", n)
	}
	cs := claimAll(t, s, "w", rowsT0)
	if len(cs) != 10 {
		t.Fatalf("claimed %d, want 10", len(cs))
	}
	retryAt := rowsT0.Add(time.Hour)
	for _, c := range cs {
		status := store.DeliverySucceeded
		if c.Event.ID == evs[0].ID {
			status = store.DeliveryPending // the first fails, to be retried in an hour
		}
		complete(t, s, c, status, retryAt)
	}
	for i := range 5 {
		evs = append(evs, appendFor(t, s, fmt.Sprint("g", i), "app"))
	}
	later := claimAll(t, s, "w", rowsT0)
	var got []string
	for _, c := range later {
		got = append(got, c.Event.DedupeKey)
	}
	if want := []string{"g0", "g1", "g2", "g3", "g4"}; !slices.Equal(got, want) {
		t.Fatalf("claimed %v after a failure, want the new events' first attempts %v", got, want)
	}
	for _, c := range later {
		complete(t, s, c, store.DeliverySucceeded, time.Time{})
	}
	if n := rawCount(t, path, `SELECT COUNT(*) FROM attempts`); n != 15 {
		t.Errorf("%d attempts recorded, want 15", n)
	}
	ds, err := s.ListDeliveries(context.Background(), store.DeliveryFilter{Destination: "app"})
	if err != nil {
		t.Fatal(err)
	}
	byStatus := map[store.DeliveryStatus]int{}
	for _, d := range ds {
		byStatus[d.Status]++
		if d.EventID == evs[0].ID && (d.Status != store.DeliveryPending || !d.NextAttemptAt.Equal(retryAt) || d.Attempts != 1) {
			t.Errorf("the failed delivery = %+v, want pending at %v with one attempt spent", d, retryAt)
		}
	}
	if byStatus[store.DeliverySucceeded] != 14 || byStatus[store.DeliveryPending] != 1 {
		t.Errorf("deliveries by status = %v, want 14 succeeded and 1 pending", byStatus)
	}
	// Only the retry is left, due in an hour.
	if at, ok, err := s.NextDue(context.Background()); err != nil || !ok || !at.Equal(retryAt) {
		t.Errorf("NextDue = %v, %v, %v; want %v", at, ok, err, retryAt)
	}
}

// A store that stops with part of its claim recorded (here: abandoned
// without Close, as a killed process leaves its file) is taken over by the
// next owner, which makes the unrecorded deliveries due at once, with
// their lost attempts recorded, and leaves the recorded ones alone: only
// what was in flight is delivered again.
func TestInFlightRecoveredByNextOwner(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	ctx := context.Background()
	first, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		appendFor(t, first, fmt.Sprint("w", i), "app")
	}
	cs := claimAll(t, first, "crashed", rowsT0)
	if len(cs) != 6 {
		t.Fatalf("claimed %d, want 6", len(cs))
	}
	recorded := map[string]bool{}
	for i, c := range cs {
		if i%2 == 1 { // out of order
			complete(t, first, c, store.DeliverySucceeded, time.Time{})
			recorded[c.Event.ID] = true
		}
	}

	next, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	again := claimAll(t, next, "w2", time.Now())
	if len(again) != 3 {
		t.Fatalf("the next owner claimed %d, want the 3 unrecorded", len(again))
	}
	for _, c := range again {
		if recorded[c.Event.ID] {
			t.Errorf("event %s was delivered and recorded, and is claimed again", c.Event.DedupeKey)
		}
		as, err := next.ListAttempts(ctx, c.Delivery.ID)
		if err != nil || len(as) != 1 || as[0].Outcome != store.OutcomeLeaseExpired {
			t.Errorf("attempts of %s = %+v, %v; want the lost one", c.Event.DedupeKey, as, err)
		}
		complete(t, next, c, store.DeliverySucceeded, time.Time{})
	}
	if more := claimAll(t, next, "w2", time.Now()); len(more) != 0 {
		t.Errorf("claimed %d more", len(more))
	}
	st, err := next.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deliveries[store.DeliverySucceeded] != 6 || len(st.Deliveries) != 1 {
		t.Errorf("deliveries = %v, want 6 succeeded", st.Deliveries)
	}
	first.Close()
}

// Two stores on one file (a second process) never claim the same
// delivery: a delivery another store holds under a live lease is left to
// it, and is taken over once that lease is over.
func TestNotClaimedTwiceAcrossStores(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	ctx := context.Background()
	a, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i := range 4 {
		appendFor(t, a, fmt.Sprint("x", i), "app")
	}
	ca := claimAll(t, a, "a", rowsT0)
	cb := claimAll(t, b, "b", rowsT0)
	if len(ca) != 4 || len(cb) != 0 {
		t.Fatalf("claimed %d by the first store and %d by the second, want 4 and 0", len(ca), len(cb))
	}
	for i := range 2 {
		appendFor(t, b, fmt.Sprint("y", i), "app")
	}
	if cb := claimAll(t, b, "b", rowsT0); len(cb) != 2 {
		t.Errorf("the second store claimed %d, want the 2 new events' and none the first store holds", len(cb))
	}
	// Once the leases are over, the second store takes the first one's
	// deliveries over (and its own two again).
	cb = claimAll(t, b, "b", rowsT0.Add(2*time.Minute))
	if len(cb) != 6 {
		t.Errorf("after the leases: the second store claimed %d, want 6", len(cb))
	}
}

// Stats counts the deliveries from counters the writer keeps, not by
// reading them: whatever their states, and after a prune, the counts equal
// those of listing every delivery.
func TestStatsCountsEveryDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := open(t, sqlite.Options{})
	for i := range 30 {
		appendFor(t, s, fmt.Sprint("a", i), "app")
	}
	for i := range 10 {
		appendFor(t, s, fmt.Sprint("b", i), "app", "logs")
	}
	for i := range 5 {
		appendFor(t, s, fmt.Sprint("n", i))
	}
	for i, c := range claimAll(t, s, "w", rowsT0) {
		switch i % 5 {
		case 0, 1:
			complete(t, s, c, store.DeliverySucceeded, time.Time{})
		case 2:
			complete(t, s, c, store.DeliveryPending, rowsT0.Add(time.Hour))
		case 3:
			complete(t, s, c, store.DeliveryDead, time.Time{})
		} // 4: left in flight
	}
	late := appendFor(t, s, "late", "app", "logs") // pending, never claimed
	if _, err := s.Discard(ctx, store.DeliverySelector{EventIDs: []string{late.ID}, Destination: "logs"}, rowsT0); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		want := map[store.DeliveryStatus]int64{}
		for after := int64(0); ; {
			ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{AfterID: after, Limit: 7})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			for _, d := range ds {
				want[d.Status]++
			}
			after = ds[len(ds)-1].ID
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(st.Deliveries) != fmt.Sprint(want) {
			t.Errorf("%s: Stats counts %v, the listing %v", when, st.Deliveries, want)
		}
	}
	check("before the prune")
	if _, _, err := s.Prune(ctx, time.Now(), time.Time{}, time.Time{}, 1000); err != nil {
		t.Fatal(err)
	}
	check("after the prune")
}

// A store routes to any number of destination names over its life: a
// destination renamed or removed leaves nothing behind that limits the
// next.
func TestDestinationNamesUnbounded(t *testing.T) {
	t.Parallel()
	s, _ := open(t, sqlite.Options{})
	var names []string
	for i := range 100 {
		names = append(names, fmt.Sprint("d", i))
		appendFor(t, s, fmt.Sprint("e", i), fmt.Sprint("d", i))
	}
	appendFor(t, s, "every", names...)
	if cs := claimAll(t, s, "w", rowsT0); len(cs) != 200 {
		t.Errorf("claimed %d deliveries to 100 destination names, want 200", len(cs))
	}
}

// A store written by the cursor (schema 9) is opened as rows: each
// delivery the cursor implied gets the status it had (succeeded at or
// below the watermark, or with its attempt recorded in the window;
// pending, due at once, in the window without one and above claimed_to),
// rows and their attempts keep their ids, and a delivery made later gets
// an id above every old one.
func TestMigrationTurnsCursorsIntoRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, 9)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for seq := 1; seq <= 6; seq++ {
		mask := 1 // app
		if seq == 2 {
			mask = 3 // app and logs
		}
		exec(`INSERT INTO events (seq, id, source, dedupe_key, received_at, body, dest_mask) VALUES (?, ?, 'sent', ?, ?, '{}', ?)`,
			seq, fmt.Sprint("evt_", seq), fmt.Sprint("k", seq), rowsT0.UnixNano(), mask)
	}
	exec(`INSERT INTO cursors (bit, destination, watermark, claimed_to, named) VALUES (0, 'app', 3, 5, 6), (1, 'logs', 0, 0, 1)`)
	exec(`INSERT INTO deliveries (id, event_seq, event_id, destination, status, attempts, next_attempt_at, created_at, updated_at)
VALUES (64, 1, 'evt_1', 'app', 'dead', 1, 0, 0, 0)`) // (1 << 6) | 0
	exec(`INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome) VALUES (64, 1, 0, 0, 'permanent'), (256, 1, 0, 0, 'succeeded')`)
	exec(`PRAGMA user_version = 9`)
	db.Close()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open a store written by the cursor: %v", err)
	}
	defer s.Close()
	ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.DeliveryStatus{}
	for _, d := range ds {
		got[fmt.Sprint(d.EventID, " ", d.Destination, " ", d.ID)] = d.Status
	}
	want := map[string]store.DeliveryStatus{
		"evt_1 app 64": "dead", "evt_2 app 128": "succeeded", "evt_2 logs 129": "pending", "evt_3 app 192": "succeeded",
		"evt_4 app 256": "succeeded", "evt_5 app 320": "pending", "evt_6 app 384": "pending",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries after the migration:\n got %v\nwant %v", got, want)
	}
	if as, err := s.ListAttempts(ctx, 64); err != nil || len(as) != 1 || as[0].Outcome != store.OutcomePermanent {
		t.Errorf("attempts of the dead delivery = %+v, %v; want its one", as, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "map[dead:1 pending:3 succeeded:3]"; fmt.Sprint(st.Deliveries) != want || st.Events != 6 {
		t.Errorf("Stats = %+v, want 6 events and deliveries %s", st, want)
	}
	if cs := claimAll(t, s, "w", rowsT0); len(cs) != 3 {
		t.Errorf("claimed %d after the migration, want the 3 pending", len(cs))
	}
	if _, err := s.AddDeliveries(ctx, []string{"evt_1"}, "archive", rowsT0); err != nil {
		t.Fatal(err)
	}
	added, err := s.ListDeliveries(ctx, store.DeliveryFilter{Destination: "archive"})
	if err != nil || len(added) != 1 || added[0].ID <= 384 {
		t.Errorf("a delivery added after the migration = %+v, %v; want one id above every old one (384)", added, err)
	}
}

// The appends one transaction holds insert their deliveries together, one
// per destination an event names (a name twice is one delivery), none for
// a duplicate; the counters agree with the rows.
func TestAppendsInsertTheirDeliveriesTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := open(t, sqlite.Options{})
	destsOf := func(i int) []string {
		switch i % 4 {
		case 0:
			return []string{"app"}
		case 1:
			return []string{"app", "logs", "app"}
		case 2:
			return nil
		}
		return []string{"logs", "audit"}
	}
	const n = 400
	events := make([]*store.Event, n)
	duplicate := make([]bool, n)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				// Every fifth event repeats the one before it: a duplicate.
				key := fmt.Sprint("k", i-min(i%5, 1))
				ev := storetest.NewEvent("sent", key)
				ev.ReceivedAt, ev.Destinations = rowsT0, destsOf(i)
				res, err := s.Append(ctx, ev)
				if err != nil {
					t.Error(err)
					return
				}
				events[i], duplicate[i] = storetest.Appended(ev, res), res.Duplicate
			}
		})
	}
	wg.Wait()
	want := map[store.DeliveryStatus]int64{}
	for i, ev := range events {
		ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range ds {
			if d.EventSeq != ev.Seq || d.Status != store.DeliveryPending {
				t.Errorf("event %d (seq %d): delivery %+v", i, ev.Seq, d)
			}
			got = append(got, d.Destination)
		}
		slices.Sort(got)
		var wantDests []string
		if !duplicate[i] {
			for _, dest := range destsOf(i) {
				if !slices.Contains(wantDests, dest) {
					wantDests = append(wantDests, dest)
					want[store.DeliveryPending]++
				}
			}
		}
		slices.Sort(wantDests)
		if !slices.Equal(got, wantDests) {
			t.Errorf("event %d (seq %d) has deliveries to %v, want %v", i, ev.Seq, got, wantDests)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st.Deliveries) != fmt.Sprint(want) {
		t.Errorf("Stats counts %v, the appends made %v", st.Deliveries, want)
	}
}
