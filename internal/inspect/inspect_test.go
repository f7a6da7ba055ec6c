package inspect_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// fixture is a store on disk with n events to "app", received a second
// apart from base; every third marked for attention, and the deliveries of
// the even ones dead.
type fixture struct {
	st   store.Store
	in   *inspect.Inspector
	evs  []*store.Event
	base time.Time
}

func setup(t *testing.T, n int) fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx := fixture{st: st, in: inspect.New(st, nil), base: time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)}
	for i := range n {
		ev := storetest.NewEvent("sent", fmt.Sprintf("k%d", i))
		ev.ReceivedAt = fx.base.Add(time.Duration(i) * time.Second)
		ev.Destinations = []string{"app"}
		if i%3 == 0 {
			ev.Attention = "unknown type: message.odd"
		}
		if i%2 == 1 {
			ev.Type = "template.approved"
		}
		res, err := st.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		fx.evs = append(fx.evs, storetest.Appended(ev, res))
	}
	claims, err := st.Claim(ctx, store.ClaimParams{Owner: "w", Now: fx.base.Add(time.Hour), Lease: time.Minute, Limit: n})
	if err != nil || len(claims) != n {
		t.Fatalf("claim: %d, %v", len(claims), err)
	}
	for _, c := range claims {
		status := store.DeliverySucceeded
		if c.Event.Seq%2 == 1 { // the first event has seq 1
			status = store.DeliveryDead
		}
		at := fx.base.Add(time.Hour)
		err := st.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "w", Status: status, SpendAttempt: true, Now: at,
			Attempt: store.Attempt{StartedAt: at, Outcome: store.OutcomePermanent, StatusCode: 400, Error: "400 Bad Request"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

// pages lists every page of q and returns the event indexes (from 0, in
// the fixture's order) seen, and how many pages it took.
func (fx fixture) pages(t *testing.T, q inspect.Query) (idx []int, pages int) {
	t.Helper()
	return pagesOf(t, fx.in, q)
}

func pagesOf(t *testing.T, in *inspect.Inspector, q inspect.Query) (idx []int, pages int) {
	t.Helper()
	for {
		p, err := in.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, ev := range p.Events {
			idx = append(idx, int(ev.Seq-1))
		}
		if p.Next == "" {
			return idx, pages
		}
		if pages > 100 {
			t.Fatal("the cursor never ends")
		}
		q.Cursor = p.Next
	}
}

func TestListPagesThroughEveryMatchOnce(t *testing.T) {
	t.Parallel()
	fx := setup(t, 25)
	cases := []struct {
		name string
		q    inspect.Query
		want func(i int) bool
	}{
		{"all", inspect.Query{}, func(int) bool { return true }},
		{"attention only", inspect.Query{Attention: inspect.AttentionOnly}, func(i int) bool { return i%3 == 0 }},
		{"attention none", inspect.Query{Attention: inspect.AttentionNone}, func(i int) bool { return i%3 != 0 }},
		{"type pattern", inspect.Query{Filter: store.EventFilter{Type: "template.*"}}, func(i int) bool { return i%2 == 1 }},
		{"dead", inspect.Query{Filter: store.EventFilter{Delivery: store.DeliveryDead}}, func(i int) bool { return i%2 == 0 }},
		{"time range", inspect.Query{Filter: store.EventFilter{Since: fx.base.Add(5 * time.Second), Until: fx.base.Add(12 * time.Second)}},
			func(i int) bool { return i >= 5 && i < 12 }},
		{"dead with attention", inspect.Query{Filter: store.EventFilter{Delivery: store.DeliveryDead}, Attention: inspect.AttentionOnly},
			func(i int) bool { return i%2 == 0 && i%3 == 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := tc.q
			q.Filter.Limit = 4
			got, pages := fx.pages(t, q)
			// Walking at most 3 seqs a page, where the store tests each
			// event, finds the same events over more pages.
			short := inspect.New(fx.st, nil)
			inspect.SetScanBudget(short, 3)
			if again, _ := pagesOf(t, short, q); fmt.Sprint(again) != fmt.Sprint(got) {
				t.Errorf("walking 3 seqs a page listed %v, want %v", again, got)
			}
			var want []int
			for i := 24; i >= 0; i-- {
				if tc.want(i) {
					want = append(want, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("listed %v, want %v (newest first)", got, want)
			}
			if min := (len(want) + 3) / 4; pages < min {
				t.Fatalf("%d pages of 4 for %d events", pages, len(want))
			}
		})
	}
}

func TestListRefusesBadFilters(t *testing.T) {
	t.Parallel()
	fx := setup(t, 1)
	for _, q := range []inspect.Query{
		{Attention: "maybe"},
		{Filter: store.EventFilter{Delivery: "lost"}},
		{Cursor: "abc"},
		{Filter: store.EventFilter{Since: fx.base, Until: fx.base.Add(-time.Second)}},
	} {
		if _, err := fx.in.List(context.Background(), q); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
}

func TestActionsCountWhatTheyTouch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fx := setup(t, 10) // dead: 0 2 4 6 8; templates: odd ones
	// Retry every dead one of a time range: 2, 4 and 6.
	q := inspect.Query{Filter: store.EventFilter{Since: fx.base.Add(2 * time.Second), Until: fx.base.Add(7 * time.Second)}}
	n, err := fx.in.Retry(ctx, inspect.Target{Filter: &q})
	if err != nil || n != 3 {
		t.Fatalf("retry over a range: %d, %v; want 3", n, err)
	}
	// Replay every template event (1 3 5 7 9), succeeded as they are.
	tq := inspect.Query{Filter: store.EventFilter{Type: "template.*"}}
	if n, err := fx.in.Replay(ctx, inspect.Target{Filter: &tq}); err != nil || n != 5 {
		t.Fatalf("replay of a type: %d, %v; want 5", n, err)
	}
	// Discard the rest of the dead: 0 and 8.
	if n, err := fx.in.Discard(ctx, inspect.Target{Dead: true}); err != nil || n != 2 {
		t.Fatalf("discard of the dead: %d, %v; want 2", n, err)
	}
	ds, err := fx.st.ListDeliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.DeliveryStatus]int{store.DeliveryPending: 8, store.DeliveryDiscarded: 2}
	got := map[store.DeliveryStatus]int{}
	for _, d := range ds {
		got[d.Status]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// One delivery by id; nothing named is an error, not "every delivery".
	if n, err := fx.in.Retry(ctx, inspect.Target{DeliveryIDs: []int64{ds[0].ID}}); err != nil || n != 0 {
		t.Fatalf("retry of a discarded delivery: %d, %v; want 0", n, err)
	}
	if _, err := fx.in.Replay(ctx, inspect.Target{}); err == nil {
		t.Fatal("a replay of nothing named did not fail")
	}
}

func TestDetailHasEveryAttempt(t *testing.T) {
	t.Parallel()
	fx := setup(t, 2)
	d, err := fx.in.Event(context.Background(), fx.evs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.DeliveryDead || len(d.Deliveries) != 1 || len(d.Deliveries[0].Attempts) != 1 {
		t.Fatalf("detail: state %s, %d deliveries %+v", d.State, len(d.Deliveries), d.Deliveries)
	}
	if a := d.Deliveries[0].Attempts[0]; a.StatusCode != 400 || a.Error != "400 Bad Request" {
		t.Fatalf("attempt %+v", a)
	}
	if d.Envelope == nil || d.Envelope.Field != "message" {
		t.Fatalf("envelope %+v (%s)", d.Envelope, d.EnvelopeError)
	}
}

// A page of a filter the store tests event by event (a time range, a
// delivery state most events are in or none is, the well-formed events)
// walks a bounded stretch of seqs, however far the matches are: each of
// the store's walks is bounded below, and together they stay within the
// budget. Filters the store finds through an index are not bounded.
func TestListBoundsItsWalk(t *testing.T) {
	t.Parallel()
	fx := setup(t, 40)
	rec := &recorder{Store: fx.st}
	in := inspect.New(rec, nil)
	inspect.SetScanBudget(in, 10)
	for name, q := range map[string]inspect.Query{
		"oldest seconds": {Filter: store.EventFilter{Until: fx.base.Add(2 * time.Second)}},
		"none":           {Filter: store.EventFilter{Delivery: store.DeliveryNone}},
		"succeeded":      {Filter: store.EventFilter{Delivery: store.DeliverySucceeded, Since: fx.base}},
		"well-formed":    {Attention: inspect.AttentionNone, Filter: store.EventFilter{Type: "nothing.stored"}},
	} {
		q.Filter.Limit = 4
		rec.filters = nil
		p, err := in.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Next == "" {
			t.Errorf("%s: a page that walked 10 of 40 seqs has no cursor to go on", name)
		}
		var walked int64
		for _, f := range rec.filters {
			if f.MinSeq == 0 && (f.Limit != 1 || f.Delivery != "") {
				t.Errorf("%s: an unbounded walk %+v", name, f)
			}
			if f.MinSeq > 0 {
				walked += f.BeforeSeq - f.MinSeq
			}
		}
		if walked > 10 {
			t.Errorf("%s: one page walked %d seqs, want at most 10", name, walked)
		}
	}
	rec.filters = nil
	if _, err := in.List(context.Background(), inspect.Query{Filter: store.EventFilter{Delivery: store.DeliveryDead}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range rec.filters {
		if f.MinSeq != 0 {
			t.Errorf("the dead, found through their index, walked a bounded stretch: %+v", f)
		}
	}
}

// recorder is a store that notes the filters it lists and counts events
// by.
type recorder struct {
	store.Store
	filters []store.EventFilter
}

func (r *recorder) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	r.filters = append(r.filters, f)
	return r.Store.ListEvents(ctx, f)
}

func (r *recorder) CountEvents(ctx context.Context, f store.EventFilter) (int, error) {
	r.filters = append(r.filters, f)
	return r.Store.CountEvents(ctx, f)
}
