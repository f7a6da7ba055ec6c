package inspect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hooklatch/hooklatch/internal/dispatch"
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
// happened to it (in-flight ones are left alone), if its destination, as
// the store's serve routes now, wants its event: a destination whose
// sources, types or filter refuse the event is passed over, as the
// receiver would pass it over. On a store whose serve never recorded its
// routes, every delivery named is requeued. It returns how many it
// requeued.
func (in *Inspector) Replay(ctx context.Context, t Target) (int, error) {
	if t.Dead {
		return in.Retry(ctx, t)
	}
	if t.empty() {
		return 0, ErrNoTarget
	}
	if t.Filter != nil {
		if err := t.Filter.Validate(); err != nil {
			return 0, err
		}
	}
	routes, recorded, err := in.routes(ctx)
	if err != nil {
		return 0, err
	}
	if !recorded {
		return in.act(ctx, t, func(sel store.DeliverySelector) (int, error) {
			return in.store.Requeue(ctx, sel, in.now())
		})
	}
	rt := dispatch.NewRouter(routes)
	total := 0
	if len(t.DeliveryIDs) > 0 {
		n, err := in.replayDeliveries(ctx, rt, t)
		total += n
		if err != nil {
			return total, err
		}
	}
	// The events named, then those the filter selects: each requeued to
	// the destinations that want it, one selector per destination.
	replay := func(evs []*store.Event) (int, error) {
		wanted := map[string][]string{} // destination: event ids
		var order []string
		for _, ev := range evs {
			for _, to := range rt.Route(&ev.EventData).To {
				if t.Destination != "" && to != t.Destination {
					continue
				}
				if wanted[to] == nil {
					order = append(order, to)
				}
				wanted[to] = append(wanted[to], ev.ID)
			}
		}
		n := 0
		for _, to := range order {
			m, err := in.store.Requeue(ctx, store.DeliverySelector{EventIDs: wanted[to], Destination: to}, in.now())
			n += m
			if err != nil {
				return n, err
			}
		}
		return n, nil
	}
	if len(t.EventIDs) > 0 {
		var evs []*store.Event
		for _, id := range t.EventIDs {
			ev, err := in.store.GetEvent(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return total, fmt.Errorf("event %s: %w", id, err)
			}
			evs = append(evs, ev)
		}
		n, err := replay(evs)
		total += n
		if err != nil {
			return total, err
		}
	}
	if t.Filter != nil {
		q := *t.Filter
		q.Cursor, q.Filter.Limit = "", 500
		n, err := Walk(ctx, in.List, q, func(listed []store.Event) (int, error) {
			evs, err := in.routable(ctx, rt, listed)
			if err != nil {
				return 0, err
			}
			return replay(evs)
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// replayDeliveries is Replay for the deliveries t names by id: each one
// whose destination wants its event.
func (in *Inspector) replayDeliveries(ctx context.Context, rt *dispatch.Router, t Target) (int, error) {
	var ids []int64
	for _, id := range t.DeliveryIDs {
		ds, err := in.store.ListDeliveries(ctx, store.DeliveryFilter{AfterID: id - 1, Limit: 1})
		if err != nil {
			return 0, err
		}
		if len(ds) == 0 || ds[0].ID != id || (t.Destination != "" && ds[0].Destination != t.Destination) {
			continue
		}
		ev, err := in.store.GetEvent(ctx, ds[0].EventID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if slices.Contains(rt.Route(&ev.EventData).To, ds[0].Destination) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return in.store.Requeue(ctx, store.DeliverySelector{IDs: ids}, in.now())
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

// Backfill gives every event q selects that destination wants, as the
// receiver routes (its sources, types and filter), a delivery to it, due
// now, unless it has one already: how a destination added to the
// configuration, or one that did not want an event type before, receives
// events stored before it. destination must be one the serving process
// records as a route. It returns how many deliveries it created.
func (in *Inspector) Backfill(ctx context.Context, destination string, q Query) (int, error) {
	if err := q.Validate(); err != nil {
		return 0, err
	}
	routes, recorded, err := in.routes(ctx)
	if err != nil {
		return 0, err
	}
	var names []string
	var route []dispatch.Route
	for _, r := range routes {
		if r.Name == destination {
			route = append(route, r)
			break
		}
		names = append(names, r.Name)
	}
	switch {
	case !recorded:
		return 0, &DestinationError{"no serve has recorded its destinations in this store yet: start serve with the new destination first"}
	case route == nil:
		return 0, &DestinationError{fmt.Sprintf("no destination named %q: the serving process delivers to %s", destination, orNone(names))}
	}
	// Only the events the destination wants, as the receiver routes them.
	rt := dispatch.NewRouter(route)
	q.Cursor, q.Filter.Limit = "", 500
	return Walk(ctx, in.List, q, func(listed []store.Event) (int, error) {
		evs, err := in.routable(ctx, rt, listed)
		if err != nil {
			return 0, err
		}
		var ids []string
		for _, ev := range evs {
			if len(rt.Route(&ev.EventData).To) > 0 {
				ids = append(ids, ev.ID)
			}
		}
		if len(ids) == 0 {
			return 0, nil
		}
		return in.store.AddDeliveries(ctx, ids, destination, in.now())
	})
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
