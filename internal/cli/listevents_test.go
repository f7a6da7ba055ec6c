package cli

import (
	"context"
	"strconv"
	"testing"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

// stretches is a backend whose every page is a bounded stretch of a large
// store that found no match: an empty page with a cursor to go on, as
// inspect.List returns for --status none when no event lacks a delivery.
type stretches struct {
	backend
	calls int
}

func (b *stretches) List(_ context.Context, q inspect.Query) (inspect.Page, error) {
	b.calls++
	if b.calls == 200 { // the oldest event
		return inspect.Page{}, nil
	}
	return inspect.Page{Next: strconv.Itoa(1_000_000 - 5000*b.calls)}, nil
}

// events ls searches one bounded stretch of the store for a filter tested
// event by event, and hands back where to go on, rather than following
// the stretches down to the oldest event: its cost does not grow with
// the store.
func TestListEventsStopsAfterAStretchThatFoundTooFew(t *testing.T) {
	b := &stretches{}
	evs, next, err := listEvents(context.Background(), b, store.EventFilter{Delivery: store.DeliveryNone, Limit: 50}, "")
	if err != nil || len(evs) != 0 || b.calls != 1 || next != "995000" {
		t.Errorf("listEvents: %d events, next %q, %v after %d pages; want none, next 995000, after one", len(evs), next, err, b.calls)
	}
}
