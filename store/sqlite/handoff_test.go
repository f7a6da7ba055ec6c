package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// An append claims, in its transaction, the deliveries the dispatcher has
// places for, and hands the claims over once committed: each is the
// delivery as stored (in flight, leased to the dispatcher), its event as
// appended, attempt 1, and is completed as a claim's is. Deliveries to a
// destination the dispatcher refuses, that orders by subject, or that is
// paused wait as pending; an append that left none pending says Handed.
func TestAppendsClaimWhatTheDispatcherTakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPlans(t)
	if err := s.SetRoutes(ctx, []store.Route{{Name: "fast"}, {Name: "slow"}, {Name: "ordered", Order: store.OrderSubject}, {Name: "paused"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPaused(ctx, "paused", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := storetest.NewPlaces(3, "fast", "ordered", "paused")
	s.ClaimOnAppend(p.Hook("me", now))

	var evs []*store.NewEvent
	for i := range 4 {
		ev := storetest.NewEvent("sent", "k-"+string(rune('a'+i)))
		ev.Destinations = []string{"fast", "slow", "ordered", "paused", "fast"}
		evs = append(evs, ev)
	}
	only := storetest.NewEvent("sent", "k-only")
	only.Destinations = []string{"fast"}
	for i, ev := range append(evs[:2:2], only, evs[2], evs[3]) {
		res, err := s.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if want := ev == only; res.Handed != want {
			t.Errorf("append %d: Handed %v, want %v", i, res.Handed, want)
		}
	}
	// Asked once per delivery, never for an ordered or paused one.
	if want := []string{"fast", "slow", "fast", "slow", "fast", "fast", "slow", "fast", "slow"}; !slices.Equal(p.Asked, want) {
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
		if c.Delivery.ID != d.ID || c.Delivery.EventSeq != d.EventSeq || c.Delivery.Status != d.Status ||
			!c.Delivery.LeaseUntil.Equal(d.LeaseUntil) || !c.Delivery.NextAttemptAt.Equal(d.NextAttemptAt) {
			t.Errorf("claimed %+v, stored %+v", c.Delivery, d)
		}
		if c.Attempt != 1 || c.Event.ID != ev.ID || c.Event.Seq != d.EventSeq || !bytes.Equal(c.Event.Body, ev.Body) ||
			c.Event.Headers["x-webhook-id"] != ev.Headers["x-webhook-id"] || c.Event.Type != ev.Type {
			t.Errorf("claim of %s: attempt %d, event %+v", ev.ID, c.Attempt, c.Event)
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
			handed := d.Destination == "fast" && (ev == evs[0] || ev == evs[1])
			if want := map[bool]store.DeliveryStatus{true: store.DeliveryInFlight, false: store.DeliveryPending}[handed]; d.Status != want {
				t.Errorf("event %d to %s: %s, want %s", slices.Index(evs, ev), d.Destination, d.Status, want)
			}
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deliveries[store.DeliveryInFlight] != 3 || st.Deliveries[store.DeliveryPending] != 14 {
		t.Errorf("counted %v, want 3 in flight and 14 pending", st.Deliveries)
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
	for _, d := range due {
		if d.Delivery.Destination == "fast" && d.Delivery.EventID != evs[2].ID && d.Delivery.EventID != evs[3].ID {
			t.Errorf("claimed %+v again", d.Delivery)
		}
	}

	// Stopped: appends claim nothing more.
	s.ClaimOnAppend(nil)
	p.Free = 10
	late := storetest.NewEvent("sent", "k-late")
	late.Destinations = []string{"fast"}
	if res, err := s.Append(ctx, late); err != nil || res.Handed {
		t.Fatalf("append after stopping: %+v, %v", res, err)
	}
	p.Handed(t, 0)
}

// A transaction that rolls back gives back the places its appends took;
// retried one write at a time, each append takes its place again, and
// only committed claims are handed over.
func TestHandedPlacesGivenBackOnRollback(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	p := storetest.NewPlaces(10, "fast")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	var batch []*writeReq
	for i := range 3 {
		ev := storetest.NewEvent("sent", "k-"+string(rune('a'+i)))
		ev.Destinations = []string{"fast"}
		batch = append(batch, newAppend(ev))
		if i == 1 {
			batch = append(batch, &writeReq{fn: func(context.Context, *sql.Tx) error { return errors.New("no") }})
		}
	}
	for _, r := range batch {
		r.done = make(chan struct{})
	}
	s.commit(batch) // as the writer does; none is running, as nothing was queued

	claims := p.Handed(t, 3)
	if p.Untaken != 2 || p.Free != 7 {
		t.Errorf("untaken %d, free %d: want 2 given back, 3 taken", p.Untaken, p.Free)
	}
	for _, r := range batch {
		if r.ev != nil && (r.err != nil || !r.res.Handed || r.res.EventID != r.ev.ID || r.res.Seq == 0) {
			t.Errorf("append %s: %+v, %v", r.ev.ID, r.res, r.err)
		}
	}
	ds, err := s.ListDeliveries(context.Background(), store.DeliveryFilter{Status: store.DeliveryInFlight})
	if err != nil || len(ds) != 3 {
		t.Fatalf("in flight: %v, %v", ds, err)
	}
	for _, c := range claims {
		if !slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.ID == c.Delivery.ID }) {
			t.Errorf("handed %d, not in flight", c.Delivery.ID)
		}
	}
}

// A handed delivery's claim says whether its event was stale when handed
// over, and its subject's latest status, as a claim does.
func TestHandedClaimsKnowTheirSubjectsState(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	p := storetest.NewPlaces(10, "fast")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	evs := subjectEvents()[:2] // SENT, then QUEUED: stale
	var batch []*writeReq
	for _, ev := range evs {
		ev.Destinations = []string{"fast"}
		r := newAppend(ev)
		r.done = make(chan struct{})
		batch = append(batch, r)
	}
	s.commit(batch)
	for _, c := range p.Handed(t, 2) {
		if stale := c.Event.ID == evs[1].ID; c.Stale != stale || c.Event.Stale != stale || c.SubjectStatus != "SENT" {
			t.Errorf("claim of %s (%s): stale %v (event %v), subject status %q", c.Event.ID, c.Event.Status, c.Stale, c.Event.Stale, c.SubjectStatus)
		}
	}
}
