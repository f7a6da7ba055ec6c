package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// pruner is the retention a backend offers beside store.Store.
type pruner interface {
	Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error)
}

// testStatsAfterMixedWorkload drives every path that changes what Stats
// counts (appends, duplicates, attention events, claims, successes,
// retries, dead ends, lease expiry, requeue, discard, backfill, prune) and
// checks Stats against the numbers the workload itself implies.
func testStatsAfterMixedWorkload(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	add := func(key, attention string, dests ...string) *store.Event {
		t.Helper()
		ev := NewEvent("sent", key)
		ev.ReceivedAt, ev.Attention, ev.Destinations = t0, attention, dests
		return Appended(ev, mustAppend(t, s, ev))
	}
	check := func(when string, events, duplicates, attention int64, deliveries map[store.DeliveryStatus]int64) {
		t.Helper()
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%d events, %d duplicates, %d attention, deliveries %v", st.Events, st.Duplicates, st.Attention, st.Deliveries)
		want := fmt.Sprintf("%d events, %d duplicates, %d attention, deliveries %v", events, duplicates, attention, deliveries)
		if got != want {
			t.Errorf("%s: Stats says\n%s\nwant\n%s", when, got, want)
		}
	}
	check("empty", 0, 0, 0, map[store.DeliveryStatus]int64{})

	ev1 := add("s1", "", "a", "b")
	ev2 := add("s2", "", "a")
	ev3 := add("s3", "", "a")
	add("s4", "", "b")
	ev5 := add("s5", "")
	ev6 := add("s6", "needs a look", "a")
	add("s7", "needs a look")
	for _, key := range []string{"s1", "s1"} { // by dedupe key
		if res := mustAppend(t, s, NewEvent("sent", key)); !res.Duplicate {
			t.Fatalf("%s again: not a duplicate", key)
		}
	}
	replay := NewEvent("sent", "s2-replayed") // by body
	replay.Body = []byte(`{"field":"message","key":"s2"}`)
	if res := mustAppend(t, s, replay); !res.Duplicate {
		t.Fatal("s2's body again: not a duplicate")
	}

	find := func(cs []store.Claim, ev *store.Event, dest string) store.Claim {
		t.Helper()
		for _, c := range cs {
			if c.Delivery.EventID == ev.ID && c.Delivery.Destination == dest {
				return c
			}
		}
		t.Fatalf("no claim of %s to %s", ev.DedupeKey, dest)
		return store.Claim{}
	}
	finish := func(c store.Claim, status store.DeliveryStatus, next, now time.Time) {
		t.Helper()
		err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: c.Delivery.LeaseOwner, Status: status,
			NextAttemptAt: next, SpendAttempt: true, Now: now, Attempt: store.Attempt{StartedAt: now, Outcome: store.OutcomeSucceeded}})
		if err != nil {
			t.Fatal(err)
		}
	}
	first := claim(t, s, "w", t0, 100)
	if len(first) != 6 {
		t.Fatalf("claimed %d, want 6", len(first))
	}
	finish(find(first, ev1, "a"), store.DeliverySucceeded, time.Time{}, t0)
	finish(find(first, ev1, "b"), store.DeliveryPending, t0.Add(time.Hour), t0) // a retry, in an hour
	finish(find(first, ev2, "a"), store.DeliveryDead, time.Time{}, t0)
	finish(find(first, ev3, "a"), store.DeliverySucceeded, time.Time{}, t0)
	finish(find(first, ev6, "a"), store.DeliveryDead, time.Time{}, t0)
	// s4's delivery to b stays in flight until its lease expires.
	if n, err := s.Requeue(ctx, store.DeliverySelector{EventIDs: []string{ev2.ID}}, t0); err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	if n, err := s.Discard(ctx, store.DeliverySelector{EventIDs: []string{ev6.ID}}, t0); err != nil || n != 1 {
		t.Fatalf("discard: %d, %v", n, err)
	}
	if n, err := s.AddDeliveries(ctx, []string{ev5.ID, ev1.ID}, "c", t0); err != nil || n != 2 {
		t.Fatalf("backfill: %d, %v", n, err)
	}
	// A minute on: s4's lease has expired; it is claimed again with the
	// requeued and the backfilled ones.
	later := t0.Add(time.Minute)
	second := claim(t, s, "w2", later, 100)
	if len(second) != 4 {
		t.Fatalf("claimed %d a minute on, want 4", len(second))
	}
	finish(find(second, ev2, "a"), store.DeliverySucceeded, time.Time{}, later)
	finish(find(second, ev5, "c"), store.DeliverySucceeded, time.Time{}, later)
	// s4 to b and s1 to c stay in flight.
	add("s8", "needs a look", "a") // the newest: pending

	check("after the workload", 8, 3, 3, map[store.DeliveryStatus]int64{
		store.DeliverySucceeded: 4, // s1 to a, s3 to a, s2 to a, s5 to c
		store.DeliveryPending:   2, // s1 to b, s8 to a
		store.DeliveryInFlight:  2, // s4 to b, s1 to c
		store.DeliveryDiscarded: 1, // s6 to a
	})

	p, ok := s.(pruner)
	if !ok {
		return
	}
	// s2, s3, s5, s6 and s7 are done with; s1, s4 and s8 are not.
	if n, _, err := p.Prune(ctx, t0.Add(time.Second), time.Time{}, time.Time{}, 100); err != nil || n != 5 {
		t.Fatalf("prune: %d events, %v; want 5", n, err)
	}
	if res := mustAppend(t, s, NewEvent("sent", "s3")); !res.Duplicate { // a pruned event's: counted nowhere
		t.Fatal("s3 again after its prune: not a duplicate")
	}
	mustAppend(t, s, NewEvent("sent", "s1"))
	check("after the prune", 3, 3, 1, map[store.DeliveryStatus]int64{
		store.DeliverySucceeded: 1, // s1 to a
		store.DeliveryPending:   2, // s1 to b, s8 to a
		store.DeliveryInFlight:  2, // s4 to b, s1 to c
	})
}
