package dispatch

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Deliveries claimed by their appends (store.AppendClaimer: SQLite and
// PostgreSQL).
//
// While Run has a free place and knows of no due delivery it has not
// claimed (dirty is false), an append inserts each delivery to a
// destination that takes them so (handable) already claimed, and hands the
// claim over once it has committed: the delivery skips a claim's
// transaction, and its attempt starts as soon as its event is stored.
// Anything that may leave a due delivery unclaimed sets dirty: a place
// refused, a wake-up (an append that left a delivery pending, a replay, a
// resume), a timer (a retry due, IdlePoll, a probe), an attempt whose end
// may make others due (any but a success to a destination that takes
// handed deliveries), a claim that filled every place. Run claims only
// while dirty, so a success handed back needs no claim at all, and clears
// it when a claim comes back short: everything due was claimed. Stopping,
// Run refuses further places and waits for the claims of those given, so
// that, as with its own claims, every claim committed is run.

// handoff is Run's state that appends reach, through the store's writer.
type handoff struct {
	ctx      context.Context // the attempts'
	inFlight chan struct{}   // Run's places
	freed    chan struct{}   // Run's wake-up when a place frees
	wg       *sync.WaitGroup

	// closing makes Take refuse; taken counts the places Take gave whose
	// claims have not come (or been given back) yet, which stop waits
	// for, so that a claim committed as Run stops is run.
	closing atomic.Bool
	taken   atomic.Int64

	mu      sync.Mutex // guards wg.Go against stopped
	stopped atomic.Bool
}

// handOverWait bounds how long a stopping Run waits for the claims of
// appends already under way: their transaction is committing.
const handOverWait = 5 * time.Second

// handable says whether appends may claim r's deliveries: r keeps no
// order, no rate and no concurrency bound, so a claim made at once is the
// claim the dispatcher would make. Pauses and an open breaker are checked
// at each take; a Retry-After hold, this process's or one another
// process shared (SlotBooker), delays a handed delivery's start as it
// does a claimed one's.
func (d *Dispatcher) handable(r *route) bool {
	return r.Order == store.OrderNone && r.Policy.Rate.Events == 0 && d.bounds[r.Name] == 0
}

// appendClaims is what the dispatcher gives the store while Run runs.
func (d *Dispatcher) appendClaims(h *handoff) *store.AppendClaims {
	return &store.AppendClaims{
		Owner: d.cfg.Owner, Lease: d.cfg.Lease, Now: d.cfg.Clock.Now,
		Take: func(destination string) bool {
			r := d.routes[destination]
			if r == nil || !r.handable || d.dirty.Load() || r.paused.Load() || r.breaker.isOpen() {
				return false
			}
			// Counted before closing is read: stop, which sets closing
			// before it reads the count, either waits for this place or
			// makes it refused.
			h.taken.Add(1)
			if h.closing.Load() {
				h.taken.Add(-1)
				return false
			}
			select {
			case h.inFlight <- struct{}{}:
				return true
			default:
				h.taken.Add(-1)
				// Full: this delivery waits as pending, and is claimed
				// with the others once places free.
				d.dirty.Store(true)
				return false
			}
		},
		Untake: func(string) {
			<-h.inFlight
			h.taken.Add(-1)
		},
		Claimed: func(claims []store.Claim) {
			h.mu.Lock()
			defer h.mu.Unlock()
			defer h.taken.Add(-int64(len(claims)))
			if h.stopped.Load() {
				// Run has stopped waiting for attempts: these stay in flight
				// until their lease expires or the store is next opened.
				for range claims {
					<-h.inFlight
				}
				d.cfg.Logger.Warn("dispatch: deliveries claimed as the dispatcher stopped; due again when their lease expires or the store is next opened",
					"deliveries", len(claims))
				return
			}
			d.cfg.Metrics.Claimed.WithLabelValues("append").Add(float64(len(claims)))
			for _, c := range claims {
				d.start(h, probeClaim{Claim: c})
			}
		},
	}
}

// start runs pc on a worker, in a place of h.inFlight already taken.
func (d *Dispatcher) start(h *handoff, pc probeClaim) {
	d.cfg.Metrics.InFlight.Inc()
	h.wg.Go(func() {
		clean := false
		defer func() {
			if !clean {
				d.dirty.Store(true)
			}
			<-h.inFlight
			d.cfg.Metrics.InFlight.Dec()
			select {
			case h.freed <- struct{}{}:
			default:
			}
		}()
		st := d.run(h.ctx, pc)
		r := d.routes[pc.Delivery.Destination]
		clean = st == store.DeliverySucceeded && r != nil && r.handable && !pc.probe
	})
}

// stop makes appends claim no more for h, waits (up to handOverWait) for
// the claims of the places already given, and makes Claimed run no more;
// once it returns, h.wg gets no new attempt.
func (d *Dispatcher) stop(h *handoff) {
	h.closing.Store(true)
	if c, ok := d.cfg.Store.(store.AppendClaimer); ok {
		c.ClaimOnAppend(nil)
	}
	for deadline := time.Now().Add(handOverWait); h.taken.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	h.mu.Lock()
	h.stopped.Store(true)
	h.mu.Unlock()
}
