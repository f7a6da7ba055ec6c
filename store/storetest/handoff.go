package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// appendClaimer opens a store that claims deliveries on append, or skips.
func appendClaimer(t *testing.T, factory Factory) interface {
	store.Store
	store.AppendClaimer
} {
	t.Helper()
	s, _ := open(t, factory)
	c, ok := s.(interface {
		store.Store
		store.AppendClaimer
	})
	if !ok {
		t.Skip("the store does not claim deliveries on append")
	}
	return c
}

// An append claims, in its transaction, the deliveries the dispatcher
// has places for, and hands the claims over once committed:
// each is the delivery as stored (leased to the dispatcher), its event as
// a claim reads it, attempt 1. Deliveries to a destination the dispatcher
// refuses, or that orders by subject, wait as pending; a duplicate gives
// its place back; an append that left none pending says Handed.
func testHandOff(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := appendClaimer(t, factory)
	if err := s.SetRoutes(ctx, []store.Route{{Name: "fast"}, {Name: "slow"}, {Name: "ordered", Order: store.OrderSubject}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := NewPlaces(3, "fast", "ordered")
	s.ClaimOnAppend(p.Hook("me", now))

	var evs []*store.NewEvent
	for i := range 3 {
		ev := NewEvent("sent", "k-"+string(rune('a'+i)))
		ev.Destinations = []string{"fast", "slow", "ordered"}
		evs = append(evs, ev)
	}
	only := NewEvent("sent", "k-only")
	only.Destinations = []string{"fast", "fast"} // named twice: one delivery, asked once
	for i, ev := range []*store.NewEvent{evs[0], evs[1], only, evs[2]} {
		res, err := s.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if want := ev == only; res.Handed != want {
			t.Errorf("append %d: Handed %v, want %v", i, res.Handed, want)
		}
	}
	// Asked once per delivery, never for an ordered one.
	if want := []string{"fast", "slow", "fast", "slow", "fast", "fast", "slow"}; !slices.Equal(p.Asked, want) {
		t.Errorf("asked %v, want %v", p.Asked, want)
	}

	claims := p.Handed(t, 3)
	byEvent := map[string]store.Claim{}
	for _, c := range claims {
		byEvent[c.Delivery.EventID] = c
	}
	for _, ev := range []*store.NewEvent{evs[0], evs[1], only} {
		c, ok := byEvent[ev.ID]
		if !ok {
			t.Fatalf("no claim for event %s", ev.ID)
		}
		stored, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID, Destination: "fast"})
		if err != nil || len(stored) != 1 {
			t.Fatalf("deliveries of %s: %v, %v", ev.ID, stored, err)
		}
		d := stored[0]
		if d.Status != store.DeliveryInFlight || d.LeaseOwner != "me" || !d.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Errorf("stored %+v, want in flight, leased to me for a minute", d)
		}
		if c.Delivery.ID != d.ID || c.Delivery.EventSeq != d.EventSeq || c.Delivery.Status != d.Status || c.Delivery.Destination != "fast" ||
			!c.Delivery.LeaseUntil.Equal(d.LeaseUntil) || !c.Delivery.NextAttemptAt.Equal(d.NextAttemptAt) {
			t.Errorf("claimed %+v, stored %+v", c.Delivery, d)
		}
		stEv, err := s.GetEvent(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Attempt != 1 || c.Event.ID != ev.ID || c.Event.Seq != d.EventSeq || !bytes.Equal(c.Event.Body, ev.Body) ||
			c.Event.Headers["x-webhook-id"] != ev.Headers["x-webhook-id"] || c.Event.Type != ev.Type ||
			c.Event.Rank != stEv.Rank || !c.Event.ReceivedAt.Equal(stEv.ReceivedAt) || !c.Event.OccurredAt.Equal(stEv.OccurredAt) {
			t.Errorf("claim of %s: attempt %d, event %+v; stored %+v", ev.ID, c.Attempt, c.Event, stEv)
		}
		if c.SubjectStatus != ev.Status || c.Stale {
			t.Errorf("claim of %s: subject status %q, stale %v; want %q, fresh", ev.ID, c.SubjectStatus, c.Stale, ev.Status)
		}
	}
	// The event's memory is the caller's: the claim keeps a copy.
	only.Body[0] = 'X'
	if byEvent[only.ID].Event.Body[0] == 'X' {
		t.Error("the claim shares the appended body")
	}

	for _, ev := range evs {
		ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			handed := d.Destination == "fast" && ev != evs[2]
			if want := map[bool]store.DeliveryStatus{true: store.DeliveryInFlight, false: store.DeliveryPending}[handed]; d.Status != want {
				t.Errorf("event %d to %s: %s, want %s", slices.Index(evs, ev), d.Destination, d.Status, want)
			}
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deliveries[store.DeliveryInFlight] != 3 || st.Deliveries[store.DeliveryPending] != 7 {
		t.Errorf("counted %v, want 3 in flight and 7 pending", st.Deliveries)
	}

	// A duplicate inserts nothing and keeps no place (a store may ask for
	// one before it knows, and give it back).
	p.Free = 1
	dup := *only
	dup.ID = NewEvent("sent", "k-dup").ID
	if res, err := s.Append(ctx, &dup); err != nil || !res.Duplicate || res.Handed {
		t.Fatalf("duplicate: %+v, %v", res, err)
	}
	p.Handed(t, 0)
	if p.Free != 1 {
		t.Errorf("after a duplicate: %d places free, want 1", p.Free)
	}

	c := byEvent[only.ID]
	if err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "me", Status: store.DeliverySucceeded,
		SpendAttempt: true, Now: now, Attempt: store.Attempt{Attempt: 1, StartedAt: now, Outcome: store.OutcomeSucceeded}}); err != nil {
		t.Fatal(err)
	}
	if st, err = s.Stats(ctx); err != nil || st.Deliveries[store.DeliveryInFlight] != 2 || st.Deliveries[store.DeliverySucceeded] != 1 {
		t.Errorf("after a success counted %v, %v", st.Deliveries, err)
	}

	// A claim of due deliveries takes the ones left pending, and none of
	// those handed.
	due, err := s.Claim(ctx, store.ClaimParams{Owner: "other", Now: time.Now(), Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 7 {
		t.Errorf("claimed %d due deliveries, want the 7 pending", len(due))
	}
	for _, d := range due {
		if d.Delivery.Destination == "fast" && d.Delivery.EventID != evs[2].ID {
			t.Errorf("claimed %+v again", d.Delivery)
		}
	}

	// A dispatcher that dies holding handed claims leaves them to any
	// instance once their lease has expired, as with its own claims.
	later, err := s.Claim(ctx, store.ClaimParams{Owner: "other", Now: now.Add(2 * time.Minute), Lease: time.Minute, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs[:2] {
		if !slices.ContainsFunc(later, func(c store.Claim) bool { return c.Delivery.ID == byEvent[ev.ID].Delivery.ID }) {
			t.Errorf("the handed delivery of %s was not claimed once its lease expired", ev.ID)
		}
	}

	// Stopped: appends claim nothing more.
	s.ClaimOnAppend(nil)
	p.Free = 10
	late := NewEvent("sent", "k-late")
	late.Destinations = []string{"fast"}
	if res, err := s.Append(ctx, late); err != nil || res.Handed {
		t.Fatalf("append after stopping: %+v, %v", res, err)
	}
	p.Handed(t, 0)
}

// A handed delivery's claim says whether its event was stale, and its
// subject's latest status, as a claim does: appended in one batch, the
// later event of a subject that is older in its lifecycle is stale.
func testHandOffSubjects(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := appendClaimer(t, factory)
	p := NewPlaces(10, "fast")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	sent := NewEvent("sent", "k-sent")
	sent.Subject, sent.Status, sent.Destinations = "m-1", "SENT", []string{"fast"}
	queued := NewEvent("sent", "k-queued")
	queued.Subject, queued.Status, queued.Destinations = "m-1", "QUEUED", []string{"fast"}
	for _, ev := range []*store.NewEvent{sent, queued} {
		if res, err := s.Append(ctx, ev); err != nil || !res.Handed {
			t.Fatalf("append %s: %+v, %v", ev.Status, res, err)
		}
	}
	for _, c := range p.Handed(t, 2) {
		if stale := c.Event.ID == queued.ID; c.Stale != stale || c.Event.Stale != stale || c.SubjectStatus != "SENT" {
			t.Errorf("claim of %s (%s): stale %v (event %v), subject status %q", c.Event.ID, c.Event.Status, c.Stale, c.Event.Stale, c.SubjectStatus)
		}
	}
}
