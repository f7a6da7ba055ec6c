package postgres_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// The dead-letter list, which takes its own path (driven by the dead
// deliveries), pages both ways and filters as the other lists do: an
// event with two dead deliveries is listed once.
func TestDeadListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t), postgres.Options{})
	var all []*store.Event
	for i := range 14 {
		ev := storetest.NewEvent("sent", fmt.Sprint("d-", i))
		ev.Type = []string{"message.sent", "message.read"}[i%2]
		ev.Destinations = []string{"a", "b"}
		res, err := s.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, storetest.Appended(ev, res))
	}
	seqs := func(evs []*store.Event) []int64 {
		var out []int64
		for _, ev := range evs {
			out = append(out, ev.Seq)
		}
		return out
	}
	dead := []*store.Event{all[1], all[2], all[4], all[7], all[10], all[11], all[13]}
	if _, err := s.Pool().Exec(ctx, `UPDATE deliveries SET status = 'dead' WHERE event_seq = ANY($1) AND (destination = 'a' OR event_seq % 2 = 0)`, seqs(dead)); err != nil {
		t.Fatal(err)
	}
	list := func(f store.EventFilter) (out []int64) {
		f.Delivery, f.Limit = store.DeliveryDead, 2
		for {
			evs, err := s.ListEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				out = append(out, ev.Seq)
				if ev.DeliveryState() != store.DeliveryDead {
					t.Errorf("event %d listed as dead with deliveries %v", ev.Seq, ev.DeliveryCounts)
				}
			}
			if len(evs) < f.Limit {
				return out
			}
			if f.AfterSeq > 0 {
				f.AfterSeq = evs[len(evs)-1].Seq
			} else {
				f.BeforeSeq = evs[len(evs)-1].Seq
			}
		}
	}
	want := seqs(dead)
	if got := list(store.EventFilter{AfterSeq: want[0]}); !slices.Equal(got, want[1:]) { // after the first dead one
		t.Errorf("dead events oldest first = %v, want %v", got, want[1:])
	}
	slices.Reverse(want)
	if got := list(store.EventFilter{BeforeSeq: math.MaxInt64}); !slices.Equal(got, want) {
		t.Errorf("dead events newest first = %v, want %v", got, want)
	}
	var read []int64
	for _, ev := range slices.Backward(dead) {
		if ev.Type == "message.read" {
			read = append(read, ev.Seq)
		}
	}
	if got := list(store.EventFilter{BeforeSeq: math.MaxInt64, Type: "message.read"}); !slices.Equal(got, read) {
		t.Errorf("dead message.read events = %v, want %v", got, read)
	}
}
