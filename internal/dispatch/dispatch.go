// Package dispatch delivers stored events to their destinations: it claims
// due deliveries with a lease, runs each attempt in a bounded pool, records
// the outcome, and schedules the next attempt or the dead letter.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/outage"
	"github.com/hooklatch/hooklatch/internal/tracing"
	"github.com/hooklatch/hooklatch/store"
)

// Route is one named destination, the event types it wants, and how it is
// treated.
type Route struct {
	// Name identifies the destination in the store. Required, unique.
	Name string
	// Destination delivers. Required.
	Destination destination.Destination
	// Types are the event types it wants: exact names or patterns such as
	// "message.*". Defaults to every type.
	Types []string
	// Filter, when set, narrows Types down to the events whose content it
	// passes; an event it cannot judge (an evaluation error) is delivered.
	// Defaults to none: every event of Types.
	Filter *filter.Filter
	// Sources are the sources it wants events from, by name ("sent",
	// "payments"). Defaults to every source.
	Sources []string
	// Policy defaults as documented on Policy.
	Policy Policy
	// Order is how the destination takes the events of one subject:
	// store.OrderNone (in parallel) or store.OrderSubject (one at a time,
	// lowest lifecycle position first). The store keeps the order; the
	// dispatcher only records it with the routes (RecordRoutes). Defaults
	// to store.OrderNone.
	Order string
}

// From reports whether the route wants events of the source named source.
func (r *Route) From(source string) bool {
	return len(r.Sources) == 0 || slices.Contains(r.Sources, source)
}

// Matches reports whether the route wants events of type typ.
func (r *Route) Matches(typ string) bool {
	if len(r.Types) == 0 {
		return true
	}
	if typ == "" {
		return false
	}
	for _, p := range r.Types {
		if ok, _ := path.Match(p, typ); ok {
			return true
		}
	}
	return false
}

// Config configures a Dispatcher.
type Config struct {
	// Store holds the deliveries. Required.
	Store store.Store
	// Routes are the destinations. Required.
	Routes []Route
	// Owner names this dispatcher's leases. Defaults to host, pid and a
	// random suffix.
	Owner string
	// Lease is how long a claim holds before another dispatcher may take
	// the delivery over. Defaults to the longest attempt timeout plus one
	// minute.
	Lease time.Duration
	// MaxInFlight bounds the attempts running at once over all routes,
	// and so the event bodies held in memory. Defaults to 256.
	MaxInFlight int
	// IdlePoll bounds how long the dispatcher sleeps without a wake-up,
	// to notice work added by another process. Defaults to 1s.
	IdlePoll time.Duration
	// DrainTimeout bounds how long Run waits for attempts in flight once
	// its context is done; past it, they are cancelled (and recorded as
	// temporary failures). Defaults to the longest attempt timeout.
	DrainTimeout time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
	// OnAttempt, when set, is told about every attempt once it has been
	// recorded, with what the dispatcher decided. It runs on the attempt's
	// worker, so it must not block. Defaults to none.
	OnAttempt func(Attempted)
	// FailureLogEvery is how often, at most, a destination whose attempts
	// keep failing is summarised in the log (the first failure is logged
	// at once, the recovery when it comes). Defaults to
	// DefaultFailureLogEvery.
	FailureLogEvery time.Duration
	// Metrics defaults to unregistered metrics.
	Metrics *Metrics
	// TracerProvider, when set, traces every attempt: a span linked to the
	// event's creation context (store.Event.TraceParent), whose traceparent
	// the destination passes on (destination.Delivery.TraceParent).
	// Defaults to none: no span, and nothing passed on.
	TracerProvider trace.TracerProvider
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Attempted is one attempt and what came of it.
type Attempted struct {
	// Route names the destination.
	Route string
	// Event is the event delivered, with its body.
	Event *store.Event
	// Completion is what was recorded: the delivery's new status, when it
	// is next due, and the attempt (number, duration, outcome, status
	// code, answer, error).
	Completion store.Completion
	// Spent counts the attempts of the delivery's current budget, this
	// one included: Policy.MaxAttempts bounds it, and a replay restarts
	// it. Completion.Attempt.Attempt numbers the attempt over the
	// delivery's whole life.
	Spent int
	// Err is what the destination returned; nil on success.
	Err error
	// RecordErr is why the attempt could not be recorded, if it could not:
	// the delivery is then tried again once its lease expires.
	RecordErr error
}

// Dispatcher runs deliveries.
type Dispatcher struct {
	cfg    Config
	tracer trace.Tracer // nil: tracing is off
	routes map[string]*route
	order  []*route  // routes in configuration order
	router *Router   // cfg.Routes, in order
	judge  judgeFunc // d.judged, bound once
	wake   chan struct{}
	store  *outage.Log // claims and records the store refused
	// booker keeps the rate limits and holds when the store is shared by
	// several processes (PostgreSQL); nil: this process's limiters.
	booker store.SlotBooker
	// bounds are the concurrency limits set explicitly (Policy.Concurrency),
	// by route name, which every claim passes to the store to hold over
	// every process sharing it; nil when no route has one.
	bounds map[string]int
	names  []string // every route's name, in order
	pauses pauses   // Run's own
	// dirty says the store may hold due deliveries Run has not claimed
	// (handoff.go).
	dirty atomic.Bool
}

type route struct {
	Route
	slots    chan struct{}
	limit    *limiter // Policy.Rate and Retry-After holds (limit.go)
	failures *outage.Log
	shape    spanShape // how its attempts are traced, while tracing is on
	retrying retrying  // deliveries waiting for a retry after a failure
	breaker  breaker   // consecutive failures; open: only probes (breaker.go)
	// handable: appends may claim its deliveries (handoff.go), unless it
	// is paused, as Run last read the pauses.
	handable bool
	paused   atomic.Bool

	// With a Filter: the events it kept out, and the events it could not
	// judge, counted and logged.
	filtered    prometheus.Counter
	filterFails prometheus.Counter
	filterLog   *outage.Log
}

// New validates cfg and returns a Dispatcher; Run starts it.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil {
		return nil, errors.New("dispatch: Config.Store is required")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("dispatch: at least one route is required")
	}
	d := &Dispatcher{routes: map[string]*route{}, wake: make(chan struct{}, 1)}
	var longest time.Duration
	for _, r := range cfg.Routes {
		if r.Name == "" || r.Destination == nil {
			return nil, errors.New("dispatch: every route needs a name and a destination")
		}
		if _, dup := d.routes[r.Name]; dup {
			return nil, fmt.Errorf("dispatch: two routes are named %q", r.Name)
		}
		for _, p := range r.Types {
			if _, err := path.Match(p, ""); err != nil {
				return nil, fmt.Errorf("dispatch: route %q: type pattern %q: %w", r.Name, p, err)
			}
		}
		if r.Order != store.OrderNone && r.Order != store.OrderSubject {
			return nil, fmt.Errorf("dispatch: route %q: order %q: want %q or none", r.Name, r.Order, store.OrderSubject)
		}
		if r.Policy.Concurrency > 0 {
			if d.bounds == nil {
				d.bounds = map[string]int{}
			}
			d.bounds[r.Name] = r.Policy.Concurrency
		}
		d.names = append(d.names, r.Name)
		r.Policy = r.Policy.withDefaults()
		longest = max(longest, r.Policy.Timeout)
		d.routes[r.Name] = &route{Route: r, slots: make(chan struct{}, r.Policy.Concurrency), limit: newLimiter(r.Policy.Rate)}
		d.routes[r.Name].breaker.threshold = max(r.Policy.BreakerFailures, 0)
		d.order = append(d.order, d.routes[r.Name])
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	if cfg.Lease <= 0 {
		cfg.Lease = longest + time.Minute
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 256
	}
	if cfg.IdlePoll <= 0 {
		cfg.IdlePoll = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = longest
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.FailureLogEvery <= 0 {
		cfg.FailureLogEvery = DefaultFailureLogEvery
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, r := range d.routes {
		r.failures = newFailureLog(r, cfg)
		if r.Filter != nil {
			r.filtered = cfg.Metrics.EventsFiltered.WithLabelValues(r.Name)
			r.filterFails = cfg.Metrics.FilterErrors.WithLabelValues(r.Name)
			r.filterLog = newFilterLog(r, cfg)
		}
	}
	if cfg.TracerProvider != nil {
		d.tracer = cfg.TracerProvider.Tracer(tracing.Name)
		for _, r := range d.routes {
			r.shape = shapeOf(&r.Route)
		}
	}
	d.store = newStoreLog(cfg)
	d.booker, _ = cfg.Store.(store.SlotBooker)
	d.cfg = cfg
	d.router, d.judge = NewRouter(cfg.Routes), d.judged
	for _, r := range d.routes {
		r.handable = d.handable(r)
	}
	return d, nil
}

// Destinations returns the names of the routes that want ev, in
// configuration order (Router.Route): what the receiver stores with the
// event. An event a filter keeps out is counted
// (hooklatch_events_filtered_total); one it cannot judge is delivered, and
// the error counted (hooklatch_filter_errors_total) and logged.
func (d *Dispatcher) Destinations(ev *store.EventData) []string {
	return d.router.route(ev, d.judge).To
}

// FilteredOut returns the names of the routes whose sources and types
// take ev but whose filter, as configured now, keeps it out: what a page
// about the event says, read when it is shown. It counts and logs nothing.
func (d *Dispatcher) FilteredOut(ev *store.Event) []string {
	return d.router.Route(&ev.EventData).FilteredOut
}

// Routes returns the dispatcher's routes, in order.
func (d *Dispatcher) Routes() []Route { return slices.Clone(d.cfg.Routes) }

// RecordRoutes tells st where the process that serves it delivers events
// (none: nowhere), so that events added to it by another command, such as
// a released rejection, are routed as received ones are.
func RecordRoutes(ctx context.Context, st store.Store, routes []Route) error {
	rs := make([]store.Route, len(routes))
	for i, r := range routes {
		p := r.Policy.withDefaults()
		rs[i] = store.Route{Name: r.Name, Types: r.Types, Sources: r.Sources, Order: r.Order,
			Concurrency: p.Concurrency, ConcurrencyShared: r.Policy.Concurrency > 0}
		if r.Filter != nil {
			rs[i].Filter = r.Filter.String()
		}
		if p.Rate.Events > 0 {
			rs[i].Rate = p.Rate.String()
		}
	}
	return st.SetRoutes(ctx, rs)
}

// Notify wakes the dispatcher: new work may be due. It never blocks.
func (d *Dispatcher) Notify() {
	d.dirty.Store(true)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs deliveries until ctx is done, then waits (up to
// DrainTimeout) for the attempts in flight to finish and be recorded.
func (d *Dispatcher) Run(ctx context.Context) error {
	// Attempts run under their own context, so that shutting down lets them
	// finish instead of failing every delivery in flight.
	attemptCtx, cancelAttempts := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAttempts()

	defer d.listen(ctx)()

	var wg sync.WaitGroup
	h := &handoff{ctx: attemptCtx, inFlight: make(chan struct{}, d.cfg.MaxInFlight), freed: make(chan struct{}, 1), wg: &wg}
	inFlight := h.inFlight
	d.dirty.Store(true)
	if c, ok := d.cfg.Store.(store.AppendClaimer); ok {
		c.ClaimOnAppend(d.appendClaims(h))
	}
	woken := true
	for ctx.Err() == nil {
		d.refreshPauses(ctx, woken)
		woken = false
		free := cap(inFlight) - len(inFlight)
		// Under load, claim in batches: a claim is a write transaction, and
		// one per freed slot would cost as much as the deliveries. And
		// claim only what may be due: a delivery handed over by its append
		// and done needs none (handoff.go).
		if free > 0 && (free >= batchFloor(cap(inFlight)) || free == cap(inFlight)) && d.dirty.Swap(false) {
			claims, err := d.claim(ctx, free)
			if err != nil || len(claims) == free {
				d.dirty.Store(true) // there may be more due
			}
			if err == nil && len(claims) < free {
				claims = append(claims, d.probes(ctx)...)
			}
			d.book(ctx, claims)
			if err != nil && ctx.Err() == nil {
				d.store.Fail(fmt.Errorf("claim: %w", err))
			} else if err == nil {
				d.store.OK()
			}
			d.cfg.Metrics.Claimed.WithLabelValues("claim").Add(float64(len(claims)))
			for _, c := range claims {
				inFlight <- struct{}{}
				d.start(h, c)
			}
			if len(claims) == free {
				continue // there may be more due right now
			}
		}
		woken = d.sleep(ctx, free < batchFloor(cap(inFlight)) && free != cap(inFlight), h.freed)
	}
	d.stop(h)

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.DrainTimeout):
		d.cfg.Logger.Warn("dispatch: attempts still running at the drain timeout; cancelling them")
		cancelAttempts()
		<-done
	}
	return nil
}

// claim leases up to limit due deliveries. The claim is not cut short by
// ctx: a claim committed after its caller stopped waiting would strand its
// deliveries until their leases expire (a shutdown between the commit and
// the answer). Claims are quick, and every one returned is run.
func (d *Dispatcher) claim(ctx context.Context, limit int) ([]probeClaim, error) {
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	dests := d.claimable()
	if dests != nil && len(dests) == 0 {
		return nil, nil
	}
	if dests == nil && d.bounds != nil {
		// A bound applies to a claim that names its destinations, each
		// walked on its own: a bounded destination's backlog, waiting for
		// places, costs the claims of the others nothing.
		dests = d.names
	}
	cs, err := d.cfg.Store.Claim(cctx, store.ClaimParams{
		Owner: d.cfg.Owner, Now: d.cfg.Clock.Now(), Lease: d.cfg.Lease, Limit: limit,
		Destinations: dests, Concurrency: d.bounds,
	})
	out := make([]probeClaim, len(cs))
	for i, c := range cs {
		out[i] = probeClaim{Claim: c}
	}
	return out, err
}

// batchFloor is how many free slots make a claim worth its transaction.
func batchFloor(slots int) int { return max(slots/8, 1) }

// sleep waits until the next delivery is due (unless waitForSlots: too few
// slots are free to claim, so only a freed slot matters), a wake-up, a
// freed slot, IdlePoll, or ctx's end. It reports a wake-up. While a
// destination is paused, its backlog is due and NextDue would say so:
// then only wake-ups, freed slots and IdlePoll end the sleep.
func (d *Dispatcher) sleep(ctx context.Context, waitForSlots bool, freed <-chan struct{}) bool {
	wait := d.cfg.IdlePoll
	open, probe := d.anyOpen()
	if !waitForSlots && d.pauses.claimable == nil && !open {
		// A bounded destination's backlog is due while its places are all
		// taken: then only a place this process frees, a wake-up or
		// IdlePoll ends the sleep (another process's freed places are seen
		// within IdlePoll).
		if at, ok, err := d.cfg.Store.NextDue(ctx); err == nil && ok && (d.bounds == nil || at.After(d.cfg.Clock.Now())) {
			wait = min(wait, max(at.Sub(d.cfg.Clock.Now()), 0))
		}
	}
	if !probe.IsZero() {
		// An open breaker's probe is due then.
		wait = min(wait, max(probe.Sub(d.cfg.Clock.Now()), 0))
	}
	if wait == 0 {
		d.dirty.Store(true)
		return false
	}
	select {
	case <-ctx.Done():
	case <-d.wake:
		d.dirty.Store(true)
		return true
	case <-freed:
	case <-d.cfg.Clock.After(wait):
		// A retry or a probe is due, or IdlePoll has passed: work another
		// process added or freed is seen then.
		d.dirty.Store(true)
	}
	return false
}

// run makes one attempt and records it, and returns the delivery's status
// as recorded ("" when it could not be). attempt counts the attempts of
// the delivery's current budget (Policy.MaxAttempts bounds it); the
// destination is told the attempt's number over the delivery's whole
// life (store.Claim.Attempt), as the store records it.
func (d *Dispatcher) run(ctx context.Context, pc probeClaim) store.DeliveryStatus {
	c := pc.Claim
	dl := c.Delivery
	attempt := dl.Attempts + 1
	now := d.cfg.Clock.Now()
	completion := store.Completion{DeliveryID: dl.ID, Owner: d.cfg.Owner, SpendAttempt: true}
	var derr error // the destination's

	r, ok := d.routes[dl.Destination]
	switch {
	case !ok:
		completion.Status = store.DeliveryDead
		completion.Attempt = store.Attempt{Attempt: attempt, StartedAt: now, Outcome: store.OutcomePermanent,
			Error: fmt.Sprintf("destination %q is not configured (retry it once it is)", dl.Destination)}
	case attempt > r.Policy.MaxAttempts:
		// The last attempt's worker died (its lease expired): no attempt left.
		completion.Status = store.DeliveryDead
		completion.SpendAttempt = false
		completion.Attempt = store.Attempt{Attempt: attempt - 1, StartedAt: now, Outcome: store.OutcomeDead,
			Error: fmt.Sprintf("no attempt left (%d allowed): the last was lost with its worker", r.Policy.MaxAttempts)}
	default:
		r.slots <- struct{}{}
		completion, derr = d.limited(ctx, r, pc, attempt)
		<-r.slots
		d.noteBreaker(r, &completion, pc.probe)
		r.noteAttempt(c, completion, derr)
	}
	if pc.probe && ok {
		r.breaker.noProbe(now) // a probe that made no attempt
	}
	if completion.Now.IsZero() { // no attempt was made, or it set none
		completion.Now = d.cfg.Clock.Now()
	}

	// Recording must not be cut short by shutdown.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := d.cfg.Store.Complete(recordCtx, completion)
	d.cfg.Metrics.observe(dl.Destination, completion)
	if d.cfg.OnAttempt != nil {
		d.cfg.OnAttempt(Attempted{Route: dl.Destination, Event: c.Event, Completion: completion, Spent: attempt, Err: derr, RecordErr: err})
	}
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		d.cfg.Logger.Warn("dispatch: the lease expired before the attempt was recorded; another worker has the delivery",
			"delivery_id", dl.ID, "destination", dl.Destination)
	case err != nil:
		// The delivery stays in flight; its lease expires and it is tried again.
		d.store.Fail(fmt.Errorf("record an attempt of delivery %d: %w", dl.ID, err))
	case completion.Status == store.DeliveryDead:
		d.cfg.Logger.Warn("dispatch: delivery is dead", "delivery_id", dl.ID, "event_id", dl.EventID,
			"destination", dl.Destination, "attempts", attempt, "err", completion.Attempt.Error)
	}
	if err != nil {
		return ""
	}
	return completion.Status
}

// attempt runs the destination and classifies what it returned.
func (d *Dispatcher) attempt(ctx context.Context, r *route, c store.Claim, attempt int) (store.Completion, error) {
	ctx, cancel := context.WithTimeout(ctx, r.Policy.Timeout)
	defer cancel()
	start := d.cfg.Clock.Now()
	number := max(c.Attempt, attempt) // attempt, from a store that does not number its claims
	dl := &destination.Delivery{ID: c.Delivery.ID, Attempt: number, Event: c.Event, Stale: c.Stale, SubjectStatus: c.SubjectStatus}
	var span trace.Span
	if d.tracer != nil {
		ctx, span = d.startAttempt(ctx, r, dl)
	}
	t0 := time.Now()
	err := deliver(ctx, r.Destination, dl)
	elapsed := time.Since(t0)
	if err != nil && ctx.Err() == context.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", r.Policy.Timeout, err)
	}

	o := destination.Classify(err)
	if span != nil {
		endAttempt(span, r, o)
	}
	comp := store.Completion{
		DeliveryID:   c.Delivery.ID,
		Owner:        d.cfg.Owner,
		SpendAttempt: true,
		Attempt: store.Attempt{
			Attempt: number, StartedAt: start, Duration: elapsed,
			StatusCode: o.Result.StatusCode, Response: o.Result.Response,
		},
	}
	if o.Err != nil {
		comp.Attempt.Error = o.Err.Error()
	}
	// One reading of the clock for the outcome: its time (Completion.Now)
	// and the next attempt's, counted from it.
	now := d.cfg.Clock.Now()
	comp.Now = now
	switch o.Class {
	case destination.Succeeded:
		comp.Status, comp.Attempt.Outcome = store.DeliverySucceeded, store.OutcomeSucceeded
	case destination.PermanentFailure:
		comp.Status, comp.Attempt.Outcome = store.DeliveryDead, store.OutcomePermanent
	case destination.Snoozed:
		comp.Status, comp.Attempt.Outcome = store.DeliveryPending, store.OutcomeSnoozed
		comp.SpendAttempt = false
		comp.NextAttemptAt = now.Add(o.Delay)
	default:
		comp.Attempt.Outcome = store.OutcomeTemporary
		if attempt >= r.Policy.MaxAttempts {
			comp.Status, comp.Attempt.Outcome = store.DeliveryDead, store.OutcomeDead
			comp.Attempt.Error = fmt.Sprintf("attempts exhausted (%d): %s", attempt, comp.Attempt.Error)
			break
		}
		comp.Status = store.DeliveryPending
		comp.NextAttemptAt = now.Add(max(r.Policy.Retry.NextRetry(attempt, o.Err), o.Delay))
	}
	return comp, err
}

// deliver calls the destination, turning a panic into a temporary error.
func deliver(ctx context.Context, dest destination.Destination, dl *destination.Delivery) (err error) {
	defer func() {
		if p := recover(); p != nil {
			stack := string(debug.Stack())
			if i := strings.Index(stack, "panic("); i > 0 {
				stack = stack[i:]
			}
			err = fmt.Errorf("destination panicked: %v\n%s", p, truncate(stack, 2048))
		}
	}()
	return dest.Deliver(ctx, dl)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
