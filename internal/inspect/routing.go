package inspect

import (
	"context"
	"errors"
	"fmt"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// routes returns the routes the store's serve last recorded (types,
// sources and filters, without destinations), to route what is added or
// requeued after the fact exactly as the receiver routes; recorded is
// false when no serve ever recorded them.
func (in *Inspector) routes(ctx context.Context) (routes []dispatch.Route, recorded bool, err error) {
	rs, recorded, err := in.store.Routes(ctx)
	if err != nil {
		return nil, false, err
	}
	if routes, err = dispatch.StoredRoutes(rs); err != nil {
		return nil, false, err
	}
	return routes, recorded, nil
}

// routable returns what a Router needs of the events listed: themselves
// when the router has no filter (their source and type suffice), else
// each read whole (fields, headers, body), as the receiver had it. Events
// gone since they were listed are left out.
func (in *Inspector) routable(ctx context.Context, rt *dispatch.Router, listed []store.Event) ([]*store.Event, error) {
	out := make([]*store.Event, 0, len(listed))
	for i := range listed {
		if !rt.Filters() {
			out = append(out, &listed[i])
			continue
		}
		ev, err := in.store.GetEvent(ctx, listed[i].ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("event %s: %w", listed[i].ID, err)
		}
		out = append(out, ev)
	}
	return out, nil
}
