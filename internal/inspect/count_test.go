package inspect_test

import (
	"context"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

// Count says how many events List would list, up to its limit, and says
// "at least" when the store tests the filter event by event and its walk
// stopped before the oldest events.
func TestCountMatchesTheList(t *testing.T) {
	t.Parallel()
	fx := setup(t, 25)
	ctx := context.Background()
	for name, q := range map[string]inspect.Query{
		"attention only":      {Attention: inspect.AttentionOnly},
		"attention none":      {Attention: inspect.AttentionNone},
		"type pattern":        {Filter: store.EventFilter{Type: "template.*"}},
		"dead":                {Filter: store.EventFilter{Delivery: store.DeliveryDead}},
		"succeeded":           {Filter: store.EventFilter{Delivery: store.DeliverySucceeded}},
		"since":               {Filter: store.EventFilter{Since: fx.base.Add(5 * time.Second)}},
		"time range":          {Filter: store.EventFilter{Since: fx.base.Add(5 * time.Second), Until: fx.base.Add(12 * time.Second)}},
		"dead with attention": {Filter: store.EventFilter{Delivery: store.DeliveryDead}, Attention: inspect.AttentionOnly},
	} {
		listed, _ := fx.pages(t, q)
		c, err := fx.in.Count(ctx, q, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if c != (inspect.Count{N: len(listed)}) {
			t.Errorf("%s: counted %+v, listed %d", name, c, len(listed))
		}
		if c, err := fx.in.Count(ctx, q, 3); err != nil || c != (inspect.Count{N: 3, More: true}) {
			t.Errorf("%s, up to 3: %+v, %v; want more than 3", name, c, err)
		}
		// Walking at most 3 seqs a list page, a count walks at most 12:
		// where the store tests each event, it counts what it met.
		short := inspect.New(fx.st, nil)
		inspect.SetScanBudget(short, 3)
		c, err = short.Count(ctx, q, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if c.More || c.N > len(listed) || c.Partial != (c.N < len(listed)) {
			t.Errorf("%s, walking 12 seqs: %+v of %d", name, c, len(listed))
		}
	}
}

// A time range is walked from the seq it starts at, not down to the
// oldest event: listing it, counting it and acting on it cost the same
// however many events were stored before it.
func TestSinceWalksFromItsStart(t *testing.T) {
	t.Parallel()
	fx := setup(t, 300)
	rec := &recorder{Store: fx.st}
	in := inspect.New(rec, nil)
	ctx := context.Background()
	q := inspect.Query{Filter: store.EventFilter{Since: fx.base.Add(280 * time.Second)}}
	low := fx.evs[280].Seq - store.SinceWindow
	check := func(what string) {
		t.Helper()
		for _, f := range rec.filters {
			if f.Limit == 1 && f.MinSeq == 0 { // the newest or the oldest seq
				continue
			}
			if f.MinSeq < low {
				t.Errorf("%s walked down to seq %d, below %d: %+v", what, f.MinSeq, low, f)
			}
		}
		if len(rec.filters) == 0 {
			t.Errorf("%s read nothing", what)
		}
		rec.filters = nil
	}
	p, err := in.List(ctx, inspect.Query{Filter: store.EventFilter{Since: q.Filter.Since, Limit: 100}})
	if err != nil || len(p.Events) != 20 || p.Next != "" {
		t.Fatalf("listed %d events, next %q, %v; want the 20 since, and no more", len(p.Events), p.Next, err)
	}
	check("a list")
	n, err := in.Each(ctx, q, func(ids []string) (int, error) { return len(ids), nil })
	if err != nil || n != 20 {
		t.Fatalf("each: %d, %v; want 20", n, err)
	}
	check("a walk of each")
	c, err := in.Count(ctx, q, 1000)
	if err != nil || c != (inspect.Count{N: 20}) {
		t.Fatalf("count: %+v, %v; want 20", c, err)
	}
	check("a count")
	// Only the end of a range is tested event by event.
	q.Filter.Until = fx.base.Add(290 * time.Second)
	if c, err := in.Count(ctx, q, 1000); err != nil || c != (inspect.Count{N: 10}) {
		t.Fatalf("count until: %+v, %v; want 10", c, err)
	}
	check("a count until")
}
