package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// testCountEvents: CountEvents says how many events ListEvents would list
// for each filter, up to its limit.
func testCountEvents(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"message.sent", "message.delivered", "template.approved"}
	for i := range 90 {
		ev := NewEvent("sent", fmt.Sprintf("c%02d", i))
		ev.Type = types[i%len(types)]
		ev.Subject = fmt.Sprintf("subj-%d", i%4)
		ev.ReceivedAt = base.Add(time.Duration(i) * time.Second)
		if i%5 == 0 {
			ev.Destinations = []string{"app"}
		}
		if i%7 == 0 {
			ev.Attention = "unknown type: message.odd"
		}
		mustAppend(t, s, ev)
	}
	for _, f := range []store.EventFilter{
		{},
		{Type: "message.sent"},
		{Type: "message.*"},
		{Type: "nothing.*"},
		{Subject: "subj-1", Type: "template.approved"},
		{Since: base.Add(30 * time.Second)},
		{Since: base.Add(30 * time.Second), Until: base.Add(40 * time.Second)},
		{Delivery: store.DeliveryPending},
		{Delivery: store.DeliveryPending, Type: "message.*"},
		{Delivery: store.DeliveryNone},
		{AttentionOnly: true},
		{Type: "message.*", MinSeq: 20, BeforeSeq: 70},
	} {
		for _, limit := range []int{0, 5, 1000} {
			f := f
			f.Limit = limit
			list := f
			list.Limit = min(store.CountLimit(limit), 10000)
			evs, err := s.ListEvents(ctx, list)
			if err != nil {
				t.Fatal(err)
			}
			n, err := s.CountEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(evs) {
				t.Errorf("%+v: counted %d, listed %d", f, n, len(evs))
			}
		}
	}
}

// testSeqReceivedSince: every event received at a time or later lies at
// or above the seq SeqReceivedSince returns for it, which is at most
// store.SinceWindow below the first of them; an event stored late with an
// earlier time (a released rejection) is above it, where a walk finds it.
func testSeqReceivedSince(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	if seq, err := s.SeqReceivedSince(ctx, time.Now()); err != nil || seq < 1 {
		t.Fatalf("no events: %d, %v; want a seq to walk down to", seq, err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []*store.Event
	for i := range 300 {
		ev := NewEvent("sent", fmt.Sprintf("r%03d", i))
		ev.ReceivedAt = base.Add(time.Duration(i) * time.Second)
		if i == 250 { // released late, received long before
			ev.ReceivedAt = base.Add(-time.Hour)
		}
		all = append(all, Appended(ev, mustAppend(t, s, ev)))
	}
	newest := all[len(all)-1].Seq
	for _, c := range []struct {
		name  string
		since time.Time
		first int // the first event received then or later, -1 for none
	}{
		{"before every event", base.Add(-2 * time.Hour), 0},
		{"the late one's time", base.Add(-time.Hour), 0},
		{"the first", base, 0},
		{"one in the middle", base.Add(100 * time.Second), 100},
		{"the one after the late one", base.Add(251 * time.Second), 251},
		{"the newest", base.Add(299 * time.Second), 299},
		{"after every event", base.Add(time.Hour), -1},
	} {
		seq, err := s.SeqReceivedSince(ctx, c.since)
		if err != nil {
			t.Fatal(err)
		}
		if c.first < 0 {
			if seq <= newest {
				t.Errorf("%s: %d, want above the newest, %d", c.name, seq, newest)
			}
			continue
		}
		var want []string
		for _, ev := range all {
			if !ev.ReceivedAt.Before(c.since) {
				want = append(want, ev.ID)
				if ev.Seq < seq {
					t.Errorf("%s: %d, above event %s (seq %d) received at %s", c.name, seq, ev.ID, ev.Seq, ev.ReceivedAt)
				}
			}
		}
		if low := all[c.first].Seq - store.SinceWindow; seq < low {
			t.Errorf("%s: %d, more than %d below the first event received since, %d", c.name, seq, store.SinceWindow, all[c.first].Seq)
		}
		// A walk of the events since, down to that seq, finds every one.
		got := pageAll(t, s, store.EventFilter{Since: c.since, MinSeq: seq, BeforeSeq: math.MaxInt64, Limit: 7}, true)
		for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
			got[i], got[j] = got[j], got[i]
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: walked down to %d: %v, want %v", c.name, seq, got, want)
		}
	}
}
