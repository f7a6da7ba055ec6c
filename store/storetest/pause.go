package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// testPauseHoldsAcrossReopen: a paused destination's deliveries are
// created, counted in its backlog and claimed by no claim that leaves it
// out; the pause outlives the store's reopening; once resumed, its
// backlog is claimed oldest first.
func testPauseHoldsAcrossReopen(t *testing.T, factory Factory) {
	ctx := context.Background()
	opener := factory(t)
	s := opener(t)
	if err := s.SetPaused(ctx, "app", true, t0); err != nil {
		t.Fatal(err)
	}
	var evs []*store.Event
	for i, key := range []string{"p1", "p2", "p3"} {
		ev := NewEvent("sent", key)
		ev.ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		ev.Destinations = []string{"app", "log"}
		evs = append(evs, Appended(ev, mustAppend(t, s, ev)))
	}
	now := t0.Add(time.Minute)
	got, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: 10, Destinations: []string{"log"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("claim of log alone took %d deliveries, want 3", len(got))
	}
	for _, c := range got {
		if c.Delivery.Destination != "log" {
			t.Fatalf("claim of log alone took a delivery to %s", c.Delivery.Destination)
		}
	}
	if got, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: now, Lease: time.Minute, Destinations: []string{}}); err != nil || len(got) != 0 {
		t.Fatalf("claim of no destination: %d claims, %v", len(got), err)
	}
	b, err := s.Backlog(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if b.Pending != 3 || !b.Oldest.Equal(evs[0].ReceivedAt) {
		t.Fatalf("backlog of app = %+v, want 3 pending, the oldest due at %s", b, evs[0].ReceivedAt)
	}
	if b, err := s.Backlog(ctx, "log"); err != nil || b.Pending != 0 || !b.Oldest.IsZero() {
		t.Fatalf("backlog of log = %+v, %v; want none", b, err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = opener(t)
	t.Cleanup(func() { s.Close() })
	paused, err := s.Paused(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := paused["app"]; !ok || !at.Equal(t0) || len(paused) != 1 {
		t.Fatalf("after reopening, paused = %v; want app since %s", paused, t0)
	}
	// Pausing again changes nothing, not even since when.
	if err := s.SetPaused(ctx, "app", true, now); err != nil {
		t.Fatal(err)
	}
	if paused, _ := s.Paused(ctx); !paused["app"].Equal(t0) {
		t.Fatalf("paused again: since %s, want %s", paused["app"], t0)
	}

	if err := s.SetPaused(ctx, "app", false, now); err != nil {
		t.Fatal(err)
	}
	if paused, err := s.Paused(ctx); err != nil || len(paused) != 0 {
		t.Fatalf("after resuming, paused = %v, %v", paused, err)
	}
	got, err = s.Claim(ctx, store.ClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: 2, Destinations: []string{"app", "log"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event.ID != evs[0].ID || got[1].Event.ID != evs[1].ID {
		t.Fatalf("after resuming, claimed %d; want the two oldest deliveries to app first", len(got))
	}
}
