package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// testClaimConcurrencyBound: a claim takes at most a bounded
// destination's bound less its deliveries in flight, whoever claimed them;
// a completed attempt or an expired lease frees a place; claims racing
// each other never hold more than the bound together; an unbounded
// destination is claimed as before.
func testClaimConcurrencyBound(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	for i := range 6 {
		appendWithDestinations(t, s, fmt.Sprint("cb", i), "app", "log")
	}
	dests := []string{"app", "log"}
	bound := map[string]int{"app": 2}
	claimAs := func(owner string, now time.Time) map[string][]store.Claim {
		t.Helper()
		got, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Now: now, Lease: time.Minute, Limit: 10,
			Destinations: dests, Concurrency: bound})
		if err != nil {
			t.Fatal(err)
		}
		by := map[string][]store.Claim{}
		for _, c := range got {
			by[c.Delivery.Destination] = append(by[c.Delivery.Destination], c)
		}
		return by
	}
	first := claimAs("w1", t0)
	if len(first["app"]) != 2 || len(first["log"]) != 6 {
		t.Fatalf("first claim: %d to app (bound 2), %d to log (unbounded); want 2 and 6", len(first["app"]), len(first["log"]))
	}
	if got := claimAs("w2", t0); len(got["app"]) != 0 {
		t.Fatalf("another claimer took %d to app while its 2 places were in flight", len(got["app"]))
	}
	done := first["app"][0].Delivery.ID
	if err := s.Complete(ctx, store.Completion{DeliveryID: done, Owner: "w1", Status: store.DeliverySucceeded, SpendAttempt: true,
		Now: t0, Attempt: store.Attempt{Attempt: 1, StartedAt: t0, Outcome: store.OutcomeSucceeded}}); err != nil {
		t.Fatal(err)
	}
	if got := claimAs("w2", t0); len(got["app"]) != 1 {
		t.Fatalf("after one attempt completed, another claimer took %d to app; want 1", len(got["app"]))
	}
	// Both leases expire (their claimers died): the places come back.
	later := t0.Add(2 * time.Minute)
	if got := claimAs("w3", later); len(got["app"]) != 2 {
		t.Fatalf("after the leases expired, %d to app; want 2", len(got["app"]))
	}

	// Claims racing each other, in rounds (each once the leases of the
	// one before have expired): never more than the bound in flight.
	for i := range 40 {
		appendWithDestinations(t, s, fmt.Sprint("race", i), "app")
	}
	bound = map[string]int{"app": 3}
	for round := range 5 {
		race := t0.Add(time.Duration(4+2*round) * time.Minute)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			taken int
		)
		for w := range 6 {
			wg.Go(func() {
				got, err := s.Claim(ctx, store.ClaimParams{Owner: fmt.Sprint("r", w), Now: race, Lease: time.Minute, Limit: 10,
					Destinations: []string{"app"}, Concurrency: bound})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				taken += len(got)
				mu.Unlock()
			})
		}
		wg.Wait()
		if taken != 3 {
			t.Errorf("round %d: 6 racing claims took %d to app, bound 3", round, taken)
		}
	}
}
