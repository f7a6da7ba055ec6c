package dispatch

import (
	"context"
	"fmt"
	"time"
)

// pauseReadFloor is how old a reading of the paused destinations must be
// for a wake-up to force another.
const pauseReadFloor = 100 * time.Millisecond

// pauses is what the dispatcher knows of the paused destinations (the
// store's, shared by every process on it): re-read at most once per
// IdlePoll, and at once after a wake-up, so a pause or a resume made
// anywhere is seen within about a second.
type pauses struct {
	read   time.Time       // when last read; zero: never
	paused map[string]bool // by route name, only the routes paused
	// claimable names the routes not paused, while some route is; nil
	// while none is (a claim then takes every destination).
	claimable []string
}

// refreshPauses re-reads the paused destinations when the last reading is
// older than IdlePoll or force is set. A store that cannot answer leaves
// the last reading in force.
func (d *Dispatcher) refreshPauses(ctx context.Context, force bool) {
	// Under load every stored event wakes the dispatcher: a wake-up forces
	// a reading only once the last is a tenth of a second old.
	if since := time.Since(d.pauses.read); !d.pauses.read.IsZero() && since < d.cfg.IdlePoll && (!force || since < pauseReadFloor) {
		return
	}
	paused, err := d.cfg.Store.Paused(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.store.Fail(fmt.Errorf("read the paused destinations: %w", err))
		}
		return
	}
	d.pauses.read = time.Now()
	d.refreshHolds(ctx)
	next := map[string]bool{}
	var claimable []string
	for _, r := range d.order {
		_, p := paused[r.Name]
		r.paused.Store(p)
		if p {
			next[r.Name] = true
		} else {
			claimable = append(claimable, r.Name)
		}
		if p != d.pauses.paused[r.Name] {
			if p {
				d.cfg.Logger.Info("dispatch: destination paused; its deliveries wait", "destination", r.Name, "since", paused[r.Name])
			} else {
				d.cfg.Logger.Info("dispatch: destination resumed; delivering its backlog", "destination", r.Name)
			}
		}
		state := 0.0
		switch {
		case p:
			state = 1
		case r.breaker.isOpen():
			state = 2
		}
		d.cfg.Metrics.DestinationState.WithLabelValues(r.Name).Set(state)
	}
	d.pauses.paused = next
	d.pauses.claimable = nil
	if len(next) > 0 {
		d.pauses.claimable = append([]string{}, claimable...)
	}
}
