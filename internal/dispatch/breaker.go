package dispatch

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// DefaultBreakerFailures is how many consecutive failed attempts open a
// destination's circuit breaker, unless Policy.BreakerFailures says.
const DefaultBreakerFailures = 10

// The wait before a probe of an open destination: probeFirst after it
// opens, doubling after each failed probe up to probeMax. The cap bounds
// how long a backlog waits once the app is back (a probe comes at most
// probeMax after), at the cost of one request per probeMax per instance
// to an app that is down (docs/controls.md).
const (
	probeFirst = time.Second
	probeMax   = 15 * time.Second
)

// breaker is one destination's circuit breaker, in this process: after
// threshold consecutive failed attempts it opens, and the destination's
// deliveries are left out of claims (as a pause leaves them) so that no
// attempt is spent on an app that is down. One probe at a time, after a
// growing wait, tests the app; a failed probe spends no attempt, and the
// first success closes the breaker.
type breaker struct {
	mu        sync.Mutex
	threshold int // 0: off
	failures  int // consecutive failed attempts
	open      bool
	since     time.Time // when it opened
	probing   bool      // a probe is claimed or running
	nextProbe time.Time
	wait      time.Duration // before the next probe
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

// probeDue reports whether an open breaker may claim a probe at now, and
// if so marks one as under way.
func (b *breaker) probeDue(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open || b.probing || now.Before(b.nextProbe) {
		return false
	}
	b.probing = true
	return true
}

// noProbe ends a probe that found no delivery to take: the next look is
// one wait later.
func (b *breaker) noProbe(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.probing {
		return
	}
	b.probing = false
	b.nextProbe = now.Add(b.wait)
}

// anyOpen reports whether some route's breaker is open, and the earliest
// time one may probe.
func (d *Dispatcher) anyOpen() (open bool, next time.Time) {
	for _, r := range d.order {
		r.breaker.mu.Lock()
		if r.breaker.open && !r.breaker.probing && (next.IsZero() || r.breaker.nextProbe.Before(next)) {
			next = r.breaker.nextProbe
		}
		open = open || r.breaker.open
		r.breaker.mu.Unlock()
	}
	return open, next
}

// OpenBreakers returns the destinations whose circuit breaker is open in
// this process, and since when.
func (d *Dispatcher) OpenBreakers() map[string]time.Time {
	out := map[string]time.Time{}
	for _, r := range d.order {
		r.breaker.mu.Lock()
		if r.breaker.open {
			out[r.Name] = r.breaker.since
		}
		r.breaker.mu.Unlock()
	}
	return out
}

// claimable names the destinations a claim may take: those not paused
// and whose breaker is closed. nil: every destination.
func (d *Dispatcher) claimable() []string {
	if open, _ := d.anyOpen(); !open {
		return d.pauses.claimable
	}
	out := []string{}
	for _, r := range d.order {
		if !d.pauses.paused[r.Name] && !r.breaker.isOpen() {
			out = append(out, r.Name)
		}
	}
	return out
}

// probes claims one delivery of each open, unpaused destination whose
// probe is due and none is under way.
func (d *Dispatcher) probes(ctx context.Context) []probeClaim {
	var out []probeClaim
	now := d.cfg.Clock.Now()
	for _, r := range d.order {
		if d.pauses.paused[r.Name] || !r.breaker.probeDue(now) {
			continue
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		cs, err := d.cfg.Store.Claim(cctx, store.ClaimParams{
			Owner: d.cfg.Owner, Now: now, Lease: d.cfg.Lease, Limit: 1, Destinations: []string{r.Name},
			Concurrency: d.bounds,
		})
		cancel()
		if err != nil || len(cs) == 0 {
			if err != nil && ctx.Err() == nil {
				d.store.Fail(fmt.Errorf("claim a probe of %s: %w", r.Name, err))
			}
			r.breaker.noProbe(now)
			continue
		}
		out = append(out, probeClaim{Claim: cs[0], probe: true})
	}
	return out
}

type probeClaim struct {
	store.Claim
	probe bool
	// booked: slot is the start booked in a store.SlotBooker for the
	// delivery; over: it got none within half the lease, and slot is when
	// the destination's next is free.
	booked, over bool
	slot         time.Time
}

// noteBreaker tells r's breaker what an attempt came to, and rewrites a
// failure while the breaker is open (a probe's, or one of an attempt
// claimed before it opened) so that it spends no attempt: the delivery
// stays pending and waits for the breaker to close.
func (d *Dispatcher) noteBreaker(r *route, comp *store.Completion, probe bool) {
	b := &r.breaker
	if b.threshold <= 0 {
		return
	}
	now := d.cfg.Clock.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch comp.Attempt.Outcome {
	case store.OutcomeSucceeded:
		b.failures = 0
		if b.open {
			b.open = false
			d.cfg.Logger.Info("dispatch: circuit breaker closed; the destination answers again and its backlog drains",
				"destination", r.Name, "open_for", now.Sub(b.since).Round(time.Second))
			d.setState(r, 0)
		}
		return
	case store.OutcomeTemporary, store.OutcomeDead:
	default: // a snooze or a permanent failure: the app answered
		return
	}
	b.failures++
	switch {
	case b.open:
		comp.Status = store.DeliveryPending
		comp.SpendAttempt = false
		comp.NextAttemptAt = now
		comp.Attempt.Outcome = store.OutcomeSnoozed
		comp.Attempt.Error = "circuit breaker open, no attempt spent: " + trimExhausted(comp.Attempt.Error)
		if probe {
			b.wait = min(b.wait*2, probeMax)
			b.nextProbe = now.Add(b.wait)
		}
	case b.failures >= b.threshold:
		b.open, b.since, b.wait = true, now, probeFirst
		b.nextProbe = now.Add(b.wait)
		d.cfg.Logger.Warn("dispatch: circuit breaker open; the destination's deliveries wait without spending attempts while one probe at a time tests it",
			"destination", r.Name, "consecutive_failures", b.failures, "err", comp.Attempt.Error)
		d.setState(r, 2)
	}
}

// trimExhausted drops the "attempts exhausted" prefix of an error that,
// rewritten, exhausted nothing.
func trimExhausted(s string) string {
	if strings.HasPrefix(s, "attempts exhausted (") {
		if _, rest, ok := strings.Cut(s, "): "); ok {
			return rest
		}
	}
	return s
}

// setState sets the destination's hooklatch_destination_state: 0
// delivering, 2 open. The next reading of the pauses shows a pause (1)
// over an open breaker.
func (d *Dispatcher) setState(r *route, open float64) {
	d.cfg.Metrics.DestinationState.WithLabelValues(r.Name).Set(open)
}
