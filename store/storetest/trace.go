package storetest

import (
	"context"
	"testing"

	"github.com/hooklatch/hooklatch/store"
)

// testCreationContext: an event's TraceParent is kept as written and read
// back by every read that returns the event (GetEvent, ListEvents, Claim);
// an event stored without one reads back without one.
func testCreationContext(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	traced := NewEvent("sent", "traced")
	traced.ReceivedAt, traced.TraceParent, traced.Destinations = t0, parent, []string{"app"}
	mustAppend(t, s, traced)
	plain := NewEvent("sent", "plain")
	plain.ReceivedAt, plain.Destinations = t0, []string{"app"}
	mustAppend(t, s, plain)

	want := map[string]string{traced.ID: parent, plain.ID: ""}
	for id, tp := range want {
		got, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.TraceParent != tp {
			t.Errorf("GetEvent(%s).TraceParent = %q, want %q", id, got.TraceParent, tp)
		}
	}
	listed, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range listed {
		if ev.TraceParent != want[ev.ID] {
			t.Errorf("ListEvents: %s has TraceParent %q, want %q", ev.ID, ev.TraceParent, want[ev.ID])
		}
	}
	claims := claim(t, s, "w", t0, 10)
	if len(claims) != 2 {
		t.Fatalf("claimed %d deliveries, want 2", len(claims))
	}
	for _, c := range claims {
		if c.Event.TraceParent != want[c.Event.ID] {
			t.Errorf("Claim: %s has TraceParent %q, want %q", c.Event.ID, c.Event.TraceParent, want[c.Event.ID])
		}
	}

	// A duplicate keeps the first event's context, not its own.
	dup := NewEvent("sent", "plain")
	dup.TraceParent = "00-11111111111111111111111111111111-2222222222222222-01"
	if res := mustAppend(t, s, dup); !res.Duplicate {
		t.Fatal("not a duplicate")
	}
	got, err := s.GetEvent(ctx, plain.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TraceParent != "" {
		t.Errorf("after a duplicate with a context: GetEvent(first).TraceParent = %q, want none", got.TraceParent)
	}
}
