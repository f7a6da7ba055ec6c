package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// countedStats is Stats as a plain count of the rows says it should be.
func countedStats(t *testing.T, s *postgres.Store) store.Stats {
	t.Helper()
	ctx := context.Background()
	var st store.Stats
	err := s.Pool().QueryRow(ctx, `
SELECT (SELECT COUNT(*) FROM events), (SELECT COALESCE(SUM(duplicates), 0)::bigint FROM events),
       (SELECT COUNT(*) FROM events WHERE attention <> ''), (SELECT COUNT(*) FROM rejections)`).
		Scan(&st.Events, &st.Duplicates, &st.Attention, &st.Rejections)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Pool().Query(ctx, `SELECT status, COUNT(*) FROM deliveries GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	st.Deliveries = map[store.DeliveryStatus]int64{}
	for rows.Next() {
		var (
			status store.DeliveryStatus
			n      int64
		)
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		st.Deliveries[status] = n
	}
	return st
}

func checkStats(t *testing.T, s *postgres.Store, when string) {
	t.Helper()
	got, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := countedStats(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: Stats = %+v, a count of the rows says %+v", when, got, want)
	}
}

// Two instances on one schema append (new events and duplicates), claim
// and complete at once; then every other path that moves a delivery or
// an event runs. Stats, from the counters, equals a plain count after
// each.
func TestStatsCountersUnderConcurrentInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	stores := []*postgres.Store{open(t, u, postgres.Options{}), open(t, u, postgres.Options{})}
	now := time.Now().UTC()

	var wg sync.WaitGroup
	for i, s := range stores {
		for g := range 8 {
			wg.Go(func() {
				for k := range 60 {
					// Every key is sent to both instances: half of the
					// appends are duplicates, some across instances.
					ev := storetest.NewEvent("sent", fmt.Sprint("k-", g, "-", k))
					ev.ID = fmt.Sprint("ev-", i, "-", g, "-", k)
					ev.Destinations = []string{"log", "http"}
					if k%7 == 0 {
						ev.Attention = "unknown type: x"
					}
					if _, err := s.Append(ctx, ev); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for range 40 {
				claims, err := s.Claim(ctx, store.ClaimParams{Owner: fmt.Sprint("inst-", i), Now: time.Now(), Lease: time.Minute, Limit: 20})
				if err != nil {
					t.Error(err)
					return
				}
				for n, c := range claims {
					status := []store.DeliveryStatus{store.DeliverySucceeded, store.DeliveryDead, store.DeliveryPending}[n%3]
					err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: fmt.Sprint("inst-", i), Status: status,
						SpendAttempt: true, Now: time.Now(), Attempt: store.Attempt{StartedAt: time.Now(), Outcome: "ok"}})
					if err != nil {
						t.Error(err)
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := stores[0]
	checkStats(t, s, "after concurrent appends and completions")

	// Leases that expire: claimed, never completed, released by the next claim.
	if _, err := s.Claim(ctx, store.ClaimParams{Owner: "gone", Now: now, Lease: time.Second, Limit: 30}); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, "after a claim")
	if _, err := stores[1].Claim(ctx, store.ClaimParams{Owner: "next", Now: now.Add(time.Hour), Lease: time.Minute, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, "after leases expired")

	evs, err := s.ListEvents(ctx, store.EventFilter{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	if _, err := s.Requeue(ctx, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}, Destination: "log"}, now); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, "after a requeue")
	if _, err := s.Discard(ctx, store.DeliverySelector{EventIDs: ids[:20]}, now); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, "after a discard")
	if _, err := s.AddDeliveries(ctx, ids, "late", now); err != nil {
		t.Fatal(err)
	}
	checkStats(t, s, "after added deliveries")
	if _, err := s.Pool().Exec(ctx, `UPDATE deliveries SET status = 'succeeded' WHERE event_id = ANY($1) AND status <> 'dead'`, ids); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddRejection(ctx, &store.Rejection{Source: "sent", ReceivedAt: now, Reason: "no_match", Body: []byte("{}")}, store.RejectionLimits{}); err != nil {
		t.Fatal(err)
	}
	n, _, err := s.Prune(ctx, now.Add(time.Hour), now.Add(time.Hour), now, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("retention pruned nothing: the test no longer exercises its counting")
	}
	checkStats(t, s, "after retention")
}

// The migration that brings in the counters fills them from the rows an
// older version stored, and the migrated tables are analyzed.
func TestCountersFilledFromExistingRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	s, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		ev := storetest.NewEvent("sent", fmt.Sprint("old-", i))
		ev.Destinations = []string{"log"}
		if i%4 == 0 {
			ev.Attention = "unparseable: x"
		}
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "old-3")); err != nil { // a duplicate
		t.Fatal(err)
	}
	// Back to the schema before the counters, with the same rows.
	_, err = s.Pool().Exec(ctx, `
DROP TABLE counters; DROP FUNCTION count_events, count_deliveries, add_counts CASCADE;
DROP INDEX deliveries_dead; DROP INDEX events_id_tail; -- 0004, also rolled back below
DROP INDEX deliveries_open, events_attention; -- 0005, likewise
ALTER TABLE events DROP COLUMN trace_parent; -- 0006, likewise
DROP TABLE minutes; -- 0007, likewise
DROP INDEX deliveries_discarded; -- 0008, likewise
DROP TABLE subjects; ALTER TABLE events DROP COLUMN rank, DROP COLUMN stale; -- 0009, likewise
DROP TABLE destination_controls; DROP INDEX deliveries_pending_destination; -- 0011, likewise
DROP TRIGGER deliveries_ordered ON deliveries; DROP FUNCTION order_subjects; -- 0010, likewise
DROP INDEX deliveries_subject_queue, deliveries_subject_head, deliveries_subject_retrying, deliveries_pending;
ALTER TABLE deliveries DROP COLUMN order_key, DROP COLUMN order_rank, DROP COLUMN order_at, DROP COLUMN held;
CREATE INDEX deliveries_pending ON deliveries (next_attempt_at, id) WHERE status = 'pending';
ALTER TABLE routes DROP COLUMN ordering;
DROP INDEX events_source_seq; -- 0012, likewise
DELETE FROM meta WHERE key = 'subjects_backfill'; -- 0013, likewise
ALTER TABLE routes DROP COLUMN sources, DROP COLUMN filter; -- 0014, likewise
DROP TABLE destination_slots; ALTER TABLE routes DROP COLUMN rate, DROP COLUMN concurrency; -- 0015, likewise
ALTER TABLE routes DROP COLUMN concurrency_shared; -- 0017, likewise
DELETE FROM schema_migrations WHERE version >= 3;
UPDATE deliveries SET status = 'dead' WHERE event_seq % 3 = 0`)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = open(t, u, postgres.Options{})
	checkStats(t, s, "after the migration")
	// The migrated tables were analyzed.
	var analyzed bool
	if err := s.Pool().QueryRow(ctx, `SELECT reltuples >= 0 FROM pg_class WHERE oid = 'events'::regclass`).Scan(&analyzed); err != nil {
		t.Fatal(err)
	}
	if !analyzed {
		t.Error("the events table was not analyzed after the migration")
	}
}

// Retention examines a bounded stretch per batch and goes on from where
// the last stopped: events kept by a dead delivery at the head do not
// hide the prunable ones behind them, and once released they are pruned
// when the walk comes round again.
func TestPruneGoesOnPastKeptEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t), postgres.Options{})
	old := time.Now().UTC().Add(-48 * time.Hour)
	for i := range 60 {
		ev := storetest.NewEvent("sent", fmt.Sprint("p-", i))
		ev.ReceivedAt = old.Add(time.Duration(i) * time.Second)
		ev.Destinations = []string{"log"}
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	// The oldest 30 are kept by a dead delivery, the newer 30 are done.
	if _, err := s.Pool().Exec(ctx, `UPDATE deliveries SET status = CASE WHEN event_seq <= (SELECT MIN(seq) + 29 FROM events) THEN 'dead' ELSE 'succeeded' END`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	prune := func() (total int64) {
		// Passes as the retainer makes them, batches of 5: each examines
		// at most 20 events.
		for range 10 {
			for {
				n, _, err := s.Prune(ctx, now.Add(-time.Hour), time.Time{}, now.Add(-72*time.Hour), 5)
				if err != nil {
					t.Fatal(err)
				}
				total += n
				if n < 5 {
					break
				}
			}
		}
		return total
	}
	if n := prune(); n != 30 {
		t.Fatalf("pruned %d events, want the 30 done with", n)
	}
	if _, err := s.Discard(ctx, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}}, now); err != nil {
		t.Fatal(err)
	}
	if n := prune(); n != 30 {
		t.Fatalf("pruned %d events once their dead deliveries were discarded, want 30", n)
	}
	checkStats(t, s, "after retention")
}
