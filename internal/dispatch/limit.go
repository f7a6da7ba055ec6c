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

// tolerance is how late a start may be for its slot: the spacing, kept
// within 2ms (a goroutine is often that late to wake, and at a high rate
// a smaller one would give back most slots) and 20ms; unbounded without a
// rate limit (no slot to be late for). A start within it lets at most
// tolerance/spacing + 1 more than the rate into a window.
func (l *limiter) tolerance() time.Duration {
	if l.interval == 0 {
		return time.Duration(1<<63 - 1)
	}
	return min(max(l.interval, 2*time.Millisecond), 20*time.Millisecond)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// held returns when the hold known to l ends, if it ends after now.
func (l *limiter) held(now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holdUntil, l.holdUntil.After(now)
}

// hold takes in a hold another process put on the destination (read from
// the store): it never shortens the one known.
func (l *limiter) hold(h store.Hold) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if h.Until.After(l.holdUntil) {
		l.holdUntil = h.Until
	}
	if h.SlowUntil.After(l.slowUntil) {
		l.slowUntil = h.SlowUntil
	}
}

// limited waits for the route's next slot and makes the attempt. The
// slot is the one booked in the store with the delivery's batch (a
// store.SlotBooker's, shared by every process), else this process's
// limiter's. When the slot is further away than half the lease, a hold
// is in force once it comes, or the dispatcher shuts down while waiting,
// the delivery is snoozed until then instead, without spending an attempt.
func (d *Dispatcher) limited(ctx context.Context, r *route, pc probeClaim, attempt int) (store.Completion, error) {
	c := pc.Claim
	now := d.cfg.Clock.Now() // the concurrency place is held from now
	var (
		at   time.Time
		ok   = true
		why  = "held by the destination's limit"
		wait time.Duration
	)
	if pc.booked {
		at, ok = maxTime(pc.slot, now), !pc.over
	} else {
		wait, ok = r.limit.reserve(now, d.cfg.Lease/2)
		at = now.Add(wait)
	}
	for tries := 0; ok; tries++ {
		if w := at.Sub(d.cfg.Clock.Now()); w > 0 {
			select {
			case <-d.cfg.Clock.After(w):
			case <-ctx.Done():
				ok = false
			}
		}
		// A worker that woke late (a loaded machine stalls timers) and
		// started now could start together with the ones of the slots
		// after its own: past the tolerance, its slot is lost. This
		// process's limiter gives it another; a slot booked in the store is
		// given back (the delivery is snoozed until now, no attempt spent).
		late := d.cfg.Clock.Now().Sub(at)
		if !ok || late <= r.limit.tolerance() || tries >= 3 {
			break
		}
		if pc.booked {
			ok, why = false, "woke late for its slot of the destination's limit"
			at = d.cfg.Clock.Now()
			break
		}
		t := d.cfg.Clock.Now()
		wait, ok = r.limit.reserve(t, d.cfg.Lease/2)
		at = t.Add(wait)
	}
	if ok && d.booker != nil {
		// Another process may have been told to hold since the slot was
		// booked.
		if until, held := r.limit.held(d.cfg.Clock.Now()); held {
			ok, at = false, until
		}
	}
	if !ok {
		wait = max(at.Sub(now), 0)
		return store.Completion{
			DeliveryID: c.Delivery.ID, Owner: d.cfg.Owner, Status: store.DeliveryPending,
			NextAttemptAt: now.Add(wait),
			Attempt: store.Attempt{Attempt: max(c.Attempt, attempt), StartedAt: now, Outcome: store.OutcomeSnoozed,
				Error: fmt.Sprintf("%s for %s", why, wait.Round(time.Millisecond))},
		}, nil
	}
	comp, err := d.attempt(ctx, r, c, attempt)
	d.answered(ctx, r, err)
	return comp, err
}

// answered tells r's limiter what the destination returned, and a store
// shared by several processes the hold a Retry-After asked for, so that
// every process holds the destination.
func (d *Dispatcher) answered(ctx context.Context, r *route, err error) {
	now := d.cfg.Clock.Now()
	r.limit.answered(now, err)
	var ra *destination.RetryAfterError
	if d.booker == nil || !errors.As(err, &ra) || ra.After <= 0 {
		return
	}
	until := now.Add(ra.After)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.booker.HoldDestination(hctx, r.Name, until, until.Add(SlowFor)); err != nil {
		d.store.Fail(fmt.Errorf("share the hold of %s: %w", r.Name, err))
	}
}

// book books in the store the slots of the claimed deliveries of the
// routes with a rate limit: one round trip for the batch, whatever the
// number of routes and deliveries. A delivery beyond half the lease gets
// no slot (over) and is snoozed until the destination's next free one.
// If the store cannot book, the deliveries are paced by this process's
// limiters, as on a store of one process.
func (d *Dispatcher) book(ctx context.Context, claims []probeClaim) {
	if d.booker == nil || len(claims) == 0 {
		return
	}
	byRoute := map[string][]int{}
	var reqs []store.SlotRequest
	now := d.cfg.Clock.Now()
	for i, c := range claims {
		r, ok := d.routes[c.Delivery.Destination]
		if !ok || r.limit.interval == 0 {
			continue
		}
		if byRoute[r.Name] == nil {
			reqs = append(reqs, store.SlotRequest{Destination: r.Name, Step: r.limit.interval, Latest: now.Add(d.cfg.Lease / 2)})
		}
		byRoute[r.Name] = append(byRoute[r.Name], i)
	}
	if len(reqs) == 0 {
		return
	}
	for i := range reqs {
		reqs[i].Want = len(byRoute[reqs[i].Destination])
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	bookings, err := d.booker.BookSlots(bctx, now, reqs)
	if err != nil {
		d.store.Fail(fmt.Errorf("book the slots of a batch: %w", err))
		return
	}
	for i, req := range reqs {
		b := bookings[i]
		d.routes[req.Destination].limit.hold(b.Hold)
		for k, ci := range byRoute[req.Destination] {
			claims[ci].booked = true
			if k < b.Booked {
				claims[ci].slot = b.First.Add(time.Duration(k) * b.Step)
			} else {
				claims[ci].slot, claims[ci].over = b.Next, true
			}
		}
	}
}

// refreshHolds takes in the holds other processes put on the
// destinations, from a store shared by several.
func (d *Dispatcher) refreshHolds(ctx context.Context) {
	if d.booker == nil {
		return
	}
	holds, err := d.booker.Holds(ctx, d.cfg.Clock.Now())
	if err != nil {
		if ctx.Err() == nil {
			d.store.Fail(fmt.Errorf("read the destinations' holds: %w", err))
		}
		return
	}
	for name, h := range holds {
		if r, ok := d.routes[name]; ok {
			r.limit.hold(h)
		}
	}
}
