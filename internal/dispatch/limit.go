package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/store"
)

// Rate is a destination's rate limit: at most Events attempts per Per,
// spaced evenly (Per/Events apart, no burst). The zero Rate is no limit.
type Rate struct {
	Events int
	Per    time.Duration
}

// ParseRate reads "50/s" or "600/m" (also "/h"); "" is no limit.
func ParseRate(s string) (Rate, error) {
	if s == "" {
		return Rate{}, nil
	}
	n, unit, ok := strings.Cut(s, "/")
	events, err := strconv.Atoi(n)
	if !ok || err != nil || events <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want a count per second or minute, such as 50/s or 600/m", s)
	}
	per, ok := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want /s, /m or /h after the count, such as 50/s", s)
	}
	return Rate{Events: events, Per: per}, nil
}

func (r Rate) String() string {
	if r.Events == 0 {
		return "none"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		return fmt.Sprintf("%d/%s", r.Events, r.Per)
	}
	return fmt.Sprintf("%d/%s", r.Events, unit)
}

// interval is the spacing of attempts; 0 without a limit.
func (r Rate) interval() time.Duration {
	if r.Events <= 0 || r.Per <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.Events)
}

// SlowFor is how long a destination's rate stays halved after the hold a
// Retry-After asked for has ended.
const SlowFor = time.Minute

// limiter paces one destination's attempts in this process: its Rate, and
// the hold a 429 or 503 with Retry-After asks for, which applies to every
// delivery of the destination, not only the one that was answered.
//
// It schedules one attempt at a time (a virtual next-slot time, as the
// generic cell rate algorithm does) rather than with golang.org/x/time/rate:
// a hold must push every following slot past its end, and a reservation of
// x/time/rate cannot start in the future without its time going backwards
// for the next caller.
type limiter struct {
	mu        sync.Mutex
	interval  time.Duration // configured spacing; 0: no rate limit
	next      time.Time     // earliest start of the next attempt
	holdUntil time.Time     // Retry-After: nothing starts before
	slowUntil time.Time     // the spacing is doubled until then
}

func newLimiter(r Rate) *limiter { return &limiter{interval: r.interval()} }

// reserve takes the next slot and returns how long to wait for it. A slot
// more than maxWait away is not taken (ok false): the caller gives the
// delivery back until then, rather than hold its lease and a worker.
func (l *limiter) reserve(now time.Time, maxWait time.Duration) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := now
	if l.next.After(at) {
		at = l.next
	}
	if l.holdUntil.After(at) {
		at = l.holdUntil
	}
	wait = at.Sub(now)
	if wait > maxWait {
		return wait, false
	}
	step := l.interval
	if at.Before(l.slowUntil) {
		step *= 2
	}
	l.next = at.Add(step)
	return wait, true
}

// answered notes what the destination returned at now: a temporary
// failure that asked for a delay (429 or 503 with Retry-After) holds the
// whole destination that long, then halves its rate for SlowFor.
func (l *limiter) answered(now time.Time, err error) {
	if err == nil {
		return
	}
	var ra *destination.RetryAfterError
	if !errors.As(err, &ra) || ra.After <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := now.Add(ra.After); until.After(l.holdUntil) {
		l.holdUntil = until
		l.slowUntil = until.Add(SlowFor)
	}
}

// limited waits for the route's next slot and makes the attempt. When
// the slot is further away than half the lease, or the dispatcher shuts
// down while waiting, the delivery is snoozed until its slot instead,
// without spending an attempt.
func (d *Dispatcher) limited(ctx context.Context, r *route, c store.Claim, attempt int) (store.Completion, error) {
	now := d.cfg.Clock.Now()
	wait, ok := r.limit.reserve(now, d.cfg.Lease/2)
	if ok && wait > 0 {
		select {
		case <-d.cfg.Clock.After(wait):
		case <-ctx.Done():
			ok = false
		}
	}
	if !ok {
		return store.Completion{
			DeliveryID: c.Delivery.ID, Owner: d.cfg.Owner, Status: store.DeliveryPending,
			NextAttemptAt: now.Add(wait),
			Attempt: store.Attempt{Attempt: max(c.Attempt, attempt), StartedAt: now, Outcome: store.OutcomeSnoozed,
				Error: fmt.Sprintf("held by the destination's limit for %s", wait.Round(time.Millisecond))},
		}, nil
	}
	comp, err := d.attempt(ctx, r, c, attempt)
	r.limit.answered(d.cfg.Clock.Now(), err)
	return comp, err
}
