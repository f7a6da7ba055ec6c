package inspect

import (
	"context"
	"fmt"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Destination is one destination's state and what waits for it.
type Destination struct {
	Name string `json:"name"`
	// State is "paused", "open" (the serving process's circuit breaker
	// for it is open) or "delivering".
	State       string    `json:"state"`
	PausedSince time.Time `json:"paused_since,omitzero"`
	OpenSince   time.Time `json:"open_since,omitzero"`
	// Rate is its rate limit ("50/s"; empty: none), for the destination
	// as a whole, and Concurrency how many attempts to it run at once, as
	// the serving process records them (0: not recorded, by a serve
	// older than these): in all serving processes together when it was
	// configured (ConcurrencyShared), else the default, in each.
	Rate              string `json:"rate,omitempty"`
	Concurrency       int    `json:"concurrency,omitempty"`
	ConcurrencyShared bool   `json:"concurrency_shared,omitempty"`
	store.Backlog
}

// Destination states.
const (
	StateDelivering = "delivering"
	StatePaused     = "paused"
	StateOpen       = "open"
)

// WithBreakers has Destinations show the destinations whose circuit
// breaker open reports open (by name, since when): the serving
// process's own, kept in its memory. It returns in.
func (in *Inspector) WithBreakers(open func() map[string]time.Time) *Inspector {
	in.breakers = open
	return in
}

// Destinations lists the destinations the serving process records, in
// its order, each with its state and backlog.
func (in *Inspector) Destinations(ctx context.Context) ([]Destination, error) {
	routes, _, err := in.store.Routes(ctx)
	if err != nil {
		return nil, err
	}
	paused, err := in.store.Paused(ctx)
	if err != nil {
		return nil, err
	}
	var open map[string]time.Time
	if in.breakers != nil {
		open = in.breakers()
	}
	out := make([]Destination, 0, len(routes))
	for _, r := range routes {
		b, err := in.store.Backlog(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		d := Destination{Name: r.Name, State: StateDelivering, Rate: r.Rate, Concurrency: r.Concurrency, ConcurrencyShared: r.ConcurrencyShared, Backlog: b}
		if at, ok := paused[r.Name]; ok {
			d.State, d.PausedSince = StatePaused, at
		} else if at, ok := open[r.Name]; ok {
			d.State, d.OpenSince = StateOpen, at
		}
		out = append(out, d)
	}
	return out, nil
}

// Pause pauses destination (paused) or resumes it, for every process
// sharing the store, and returns its state afterwards. destination must
// be one the serving process records as a route.
func (in *Inspector) Pause(ctx context.Context, destination string, paused bool) (Destination, error) {
	routes, recorded, err := in.store.Routes(ctx)
	if err != nil {
		return Destination{}, err
	}
	var names []string
	known := false
	for _, r := range routes {
		names = append(names, r.Name)
		known = known || r.Name == destination
	}
	switch {
	case !recorded:
		return Destination{}, &DestinationError{"no serve has recorded its destinations in this store yet: start serve first"}
	case !known:
		return Destination{}, &DestinationError{fmt.Sprintf("no destination named %q: the serving process delivers to %s", destination, orNone(names))}
	}
	if err := in.store.SetPaused(ctx, destination, paused, in.now()); err != nil {
		return Destination{}, err
	}
	all, err := in.Destinations(ctx)
	if err != nil {
		return Destination{}, err
	}
	for _, d := range all {
		if d.Name == destination {
			return d, nil
		}
	}
	return Destination{Name: destination}, nil
}
