package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// The writer knows its own process's pauses at once: a delivery to a
// paused destination is never offered to the dispatcher, and one to a
// destination resumed is again; a destination named twice is asked
// once. The rest of what an append hands over is the conformance suite's
// (storetest, HandOff).
func TestAppendsClaimWhatTheDispatcherTakes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPlans(t)
	if err := s.SetRoutes(ctx, []store.Route{{Name: "fast"}, {Name: "slow"}, {Name: "paused"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPaused(ctx, "paused", true, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := storetest.NewPlaces(10, "fast", "paused")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	ev := storetest.NewEvent("sent", "k-a")
	ev.Destinations = []string{"fast", "slow", "paused", "fast"}
	if res, err := s.Append(ctx, ev); err != nil || res.Handed {
		t.Fatalf("append: %+v, %v; want deliveries left pending", res, err)
	}
	if want := []string{"fast", "slow"}; !slices.Equal(p.Asked, want) {
		t.Errorf("asked %v, want %v", p.Asked, want)
	}
	if cs := p.Handed(t, 1); cs[0].Delivery.Destination != "fast" {
		t.Errorf("handed %+v", cs[0].Delivery)
	}
	ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID, Destination: "paused"})
	if err != nil || len(ds) != 1 || ds[0].Status != store.DeliveryPending {
		t.Fatalf("delivery to the paused destination: %+v, %v", ds, err)
	}

	if err := s.SetPaused(ctx, "paused", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	resumed := storetest.NewEvent("sent", "k-b")
	resumed.Destinations = []string{"paused"}
	if res, err := s.Append(ctx, resumed); err != nil || !res.Handed {
		t.Fatalf("append once resumed: %+v, %v; want it handed over", res, err)
	}
	if cs := p.Handed(t, 1); cs[0].Delivery.EventID != resumed.ID {
		t.Errorf("handed %+v", cs[0].Delivery)
	}
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
