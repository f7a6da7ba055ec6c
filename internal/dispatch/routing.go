package dispatch

import (
	"fmt"

	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/store"
)

// Router decides which routes want an event: those of its Sources and
// Types whose Filter, if they have one, passes it. It is the one walk that
// routes an event, wherever the event comes from: the receiver (through
// Dispatcher.Destinations), a released rejection, a backfill and a replay
// (through the routes the store recorded, StoredRoutes), and a page that
// says which filters keep an event out (Dispatcher.FilteredOut).
type Router struct {
	routes []Route
	// reads is what the routes' filters read of the payload together:
	// what routing an event decodes of its body.
	reads filter.Reads
}

// NewRouter returns the Router of routes, in their order.
func NewRouter(routes []Route) *Router {
	rt := &Router{routes: routes}
	for i := range routes {
		if routes[i].Filter != nil {
			rt.reads = rt.reads.Union(routes[i].Filter.Reads())
		}
	}
	return rt
}

// Filters reports whether some route has a Filter: routing an event then
// reads more of it than its source and type (its fields, headers and, for
// a filter on payload, its body).
func (rt *Router) Filters() bool {
	for i := range rt.routes {
		if rt.routes[i].Filter != nil {
			return true
		}
	}
	return false
}

// Routing is where an event goes.
type Routing struct {
	// To names the routes that want the event, in order: what the
	// receiver stores with it. An event a filter cannot judge (an
	// evaluation error) goes to its route all the same.
	To []string
	// FilteredOut names the routes whose sources and types take the event
	// but whose filter keeps it out.
	FilteredOut []string
}

// Route routes ev. The event's filter variables are built once, and only
// when a route that takes its source and type has a Filter.
func (rt *Router) Route(ev *store.EventData) Routing { return rt.route(ev, nil) }

// judgeFunc is told of each filter's verdict on an event: the position of
// its route, and the error when the filter could not judge it (the event
// then goes to the route).
type judgeFunc func(route int, ev *store.EventData, passed bool, err error)

func (rt *Router) route(ev *store.EventData, judged judgeFunc) Routing {
	var out Routing
	var vars filter.Vars
	for i := range rt.routes {
		r := &rt.routes[i]
		if !r.Matches(ev.Type) || !r.From(ev.Source) {
			continue
		}
		if r.Filter != nil {
			if vars == nil {
				vars = filter.VarsOf(ev, rt.reads)
			}
			ok, err := r.Filter.Match(vars)
			if judged != nil {
				judged(i, ev, ok, err)
			}
			if err == nil && !ok {
				out.FilteredOut = append(out.FilteredOut, r.Name)
				continue
			}
		}
		out.To = append(out.To, r.Name)
	}
	return out
}

// judged counts and logs a filter's verdict on an event routed for the
// receiver.
func (d *Dispatcher) judged(i int, ev *store.EventData, passed bool, err error) {
	r := d.order[i]
	switch {
	case err != nil:
		r.filterFails.Inc()
		r.filterLog.Fail(fmt.Errorf("event %s: %w", ev.ID, err))
	case !passed:
		r.filterLog.OK()
		r.filtered.Inc()
	default:
		r.filterLog.OK()
	}
}

// StoredRoutes are routes as RecordRoutes kept them, without their
// destinations: enough for a Router. It fails on a filter this build
// cannot compile.
func StoredRoutes(rs []store.Route) ([]Route, error) {
	out := make([]Route, len(rs))
	for i, r := range rs {
		out[i] = Route{Name: r.Name, Types: r.Types, Sources: r.Sources, Order: r.Order}
		if r.Filter == "" {
			continue
		}
		f, err := filter.Compile(r.Filter)
		if err != nil {
			return nil, fmt.Errorf("the recorded filter of %s: %w", r.Name, err)
		}
		out[i].Filter = f
	}
	return out, nil
}
