package inspect

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hooklatch/hooklatch/store"
)

// ErrNoTarget is returned by an action given nothing to act on.
var ErrNoTarget = errors.New("name deliveries or events, or give a filter")

// Target names the deliveries an action touches: those with the ids, the
// deliveries of the events, or of every event a filter selects; Dead
// alone, every dead delivery. Destination narrows any of them.
type Target struct {
	DeliveryIDs []int64
	EventIDs    []string
	// Filter, when set, adds every event it selects.
	Filter *Query
	// Dead with nothing else named: every dead delivery (retry only).
	Dead        bool
	Destination string
}

func (t Target) empty() bool {
	return len(t.DeliveryIDs) == 0 && len(t.EventIDs) == 0 && t.Filter == nil && !t.Dead
}

// Retry makes the dead deliveries t names pending again, due now, with a
// fresh attempt budget. It returns how many it requeued.
func (in *Inspector) Retry(ctx context.Context, t Target) (int, error) {
	// Only dead deliveries: narrowing the filter to events with one spares
	// reading the others.
	if t.Filter != nil && t.Filter.Filter.Delivery == "" {
		f := *t.Filter
		f.Filter.Delivery = store.DeliveryDead
		t.Filter = &f
	}
	return in.act(ctx, t, func(sel store.DeliverySelector) (int, error) {
		sel.Statuses = []store.DeliveryStatus{store.DeliveryDead}
		return in.store.Requeue(ctx, sel, in.now())
	})
}

// Replay makes every delivery t names pending again, due now, whatever
// happened to it (in-flight ones are left alone). It returns how many it
// requeued.
func (in *Inspector) Replay(ctx context.Context, t Target) (int, error) {
	if t.Dead {
		return in.Retry(ctx, t)
	}
	return in.act(ctx, t, func(sel store.DeliverySelector) (int, error) {
		return in.store.Requeue(ctx, sel, in.now())
	})
}

// Discard marks the pending or dead deliveries t names discarded. It
// returns how many it discarded.
func (in *Inspector) Discard(ctx context.Context, t Target) (int, error) {
	return in.act(ctx, t, func(sel store.DeliverySelector) (int, error) {
		if t.Dead {
			sel.Statuses = []store.DeliveryStatus{store.DeliveryDead}
		}
		return in.store.Discard(ctx, sel, in.now())
	})
}

// act runs do over the selectors t names.
func (in *Inspector) act(ctx context.Context, t Target, do func(store.DeliverySelector) (int, error)) (int, error) {
	if t.empty() {
		return 0, ErrNoTarget
	}
	if t.Filter != nil {
		if err := t.Filter.Validate(); err != nil {
			return 0, err
		}
	}
	total := 0
	// A selector's fields narrow one another: each kind of name goes alone.
	var sels []store.DeliverySelector
	if len(t.DeliveryIDs) > 0 {
		sels = append(sels, store.DeliverySelector{IDs: t.DeliveryIDs})
	}
	if len(t.EventIDs) > 0 {
		sels = append(sels, store.DeliverySelector{EventIDs: t.EventIDs})
	}
	if t.Dead && len(sels) == 0 && t.Filter == nil {
		sels = append(sels, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}})
	}
	for _, sel := range sels {
		sel.Destination = t.Destination
		n, err := do(sel)
		total += n
		if err != nil {
			return total, err
		}
	}
	if t.Filter != nil {
		n, err := in.Each(ctx, *t.Filter, func(ids []string) (int, error) {
			return do(store.DeliverySelector{EventIDs: ids, Destination: t.Destination})
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// DestinationError is returned by Backfill when the destination named
// is not one the store's serve delivers to, or the store does not say.
type DestinationError struct{ msg string }

func (e *DestinationError) Error() string { return e.msg }

// Backfill gives every event q selects a delivery to destination, due
// now, unless it has one already: how a destination added to the
// configuration, or one that did not want an event type before, receives
// events stored before it. destination must be one the serving process
// records as a route. It returns how many deliveries it created.
func (in *Inspector) Backfill(ctx context.Context, destination string, q Query) (int, error) {
	if err := q.Validate(); err != nil {
		return 0, err
	}
	routes, recorded, err := in.store.Routes(ctx)
	if err != nil {
		return 0, err
	}
	var names []string
	for _, r := range routes {
		if r.Name == destination {
			names = nil
			break
		}
		names = append(names, r.Name)
	}
	switch {
	case !recorded:
		return 0, &DestinationError{"no serve has recorded its destinations in this store yet: start serve with the new destination first"}
	case len(names) == len(routes):
		return 0, &DestinationError{fmt.Sprintf("no destination named %q: the serving process delivers to %s", destination, orNone(names))}
	}
	return in.Each(ctx, q, func(ids []string) (int, error) {
		return in.store.AddDeliveries(ctx, ids, destination, in.now())
	})
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
