package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/store"
)

// openedStore is what opening opens: either store can prune.
type openedStore interface {
	store.Store
	retention.Pruner
}

// obstacle is what keeps a store from opening, in the words of the logs.
type obstacle struct {
	cannot string        // "cannot reach PostgreSQL"
	still  string        // "still cannot reach PostgreSQL"
	gone   string        // "PostgreSQL reached"
	max    time.Duration // the longest wait between two attempts
}

var (
	unreachable = obstacle{"cannot reach PostgreSQL", "still cannot reach PostgreSQL", "PostgreSQL reached", 10 * time.Second}
	// A local file is cheap to try again: space freed is seen within a second.
	diskFull = obstacle{"the disk holding the SQLite store is full", "the disk holding the SQLite store is still full", "the disk has room again", time.Second}
)

// opening is the store of a server that could not open it when it
// started, for a reason that time may mend: PostgreSQL unreachable, or the
// disk of a SQLite store full. It keeps trying to open it in the
// background, with backoff; until it has, every call fails saying why (the
// receiver answers 503 with Retry-After, /readyz says the store cannot
// take writes), and from then on every call goes to the opened store.
type opening struct {
	open   func(context.Context) (openedStore, error)
	where  string // the location (a redacted URL), for the logs
	why    obstacle
	logger *slog.Logger

	opened chan struct{} // closed once st is set
	st     openedStore
	mu     sync.Mutex
	last   error // the last attempt's
	cancel context.CancelFunc
	done   chan struct{} // closed when the loop has stopped
}

// Backoff between attempts to open (up to obstacle.max), and how often a
// failed one is logged.
const (
	openBackoffMin = 250 * time.Millisecond
	openLogEvery   = 30 * time.Second
)

func newOpening(where string, why obstacle, first error, logger *slog.Logger, open func(context.Context) (openedStore, error)) *opening {
	return &opening{open: open, where: where, why: why, logger: logger, last: first, opened: make(chan struct{}), done: make(chan struct{})}
}

// start tries to open the store until it succeeds or Close is called.
// onOpen runs on the opened store before any call reaches it; when it
// fails, the store is closed and opened again.
func (o *opening) start(onOpen func(context.Context, store.Store) error) {
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	o.logger.Warn("store: "+o.why.cannot+"; answering 503 and trying again in the background",
		"store", o.where, "err", o.last)
	go func() {
		defer close(o.done)
		o.loop(ctx, onOpen)
	}()
}

func (o *opening) loop(ctx context.Context, onOpen func(context.Context, store.Store) error) {
	wait, attempts, logged := openBackoffMin, 1, time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, o.why.max)
		attempts++
		st, err := o.attempt(ctx, onOpen)
		if err == nil {
			o.st = st
			close(o.opened)
			o.logger.Info("store: "+o.why.gone+"; accepting webhooks", "store", o.where, "attempts", attempts)
			return
		}
		o.mu.Lock()
		o.last = err
		o.mu.Unlock()
		if ctx.Err() == nil && time.Since(logged) >= openLogEvery {
			o.logger.Warn("store: "+o.why.still+"; answering 503", "store", o.where, "attempts", attempts, "err", err)
			logged = time.Now()
		}
	}
}

// attempt opens the store and runs onOpen on it, or fails with a store closed.
func (o *opening) attempt(ctx context.Context, onOpen func(context.Context, store.Store) error) (openedStore, error) {
	st, err := o.open(ctx)
	if err != nil {
		return nil, err
	}
	if err = onOpen(ctx, st); err == nil && ctx.Err() == nil {
		return st, nil
	}
	st.Close()
	return nil, errors.Join(err, ctx.Err())
}

// get returns the opened store, or the error saying why there is none yet.
func (o *opening) get() (openedStore, error) {
	select {
	case <-o.opened:
		return o.st, nil
	default:
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return nil, fmt.Errorf("store %s not open yet (%s): %w", o.where, o.why.cannot, o.last)
}

// Close stops trying and closes the store if it was opened.
func (o *opening) Close() error {
	if o.cancel != nil {
		o.cancel()
		<-o.done
	}
	select {
	case <-o.opened:
		return o.st.Close()
	default:
		return nil
	}
}

// ListenForWork waits for the store, then listens on it if it can.
func (o *opening) ListenForWork(ctx context.Context, wake func()) error {
	select {
	case <-ctx.Done():
		return nil
	case <-o.opened:
	}
	wake() // work may have been stored while this one waited
	if l, ok := o.st.(dispatch.WorkListener); ok {
		return l.ListenForWork(ctx, wake)
	}
	return nil
}

// call runs f on the opened store.
func call[T any](o *opening, f func(store.Store) (T, error)) (T, error) {
	st, err := o.get()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(st)
}

// do runs f on the opened store.
func (o *opening) do(f func(store.Store) error) error {
	st, err := o.get()
	if err != nil {
		return err
	}
	return f(st)
}

func (o *opening) Append(ctx context.Context, ev *store.NewEvent) (store.AppendResult, error) {
	return call(o, func(st store.Store) (store.AppendResult, error) { return st.Append(ctx, ev) })
}

func (o *opening) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	return call(o, func(st store.Store) (*store.Event, error) { return st.GetEvent(ctx, id) })
}

func (o *opening) ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error) {
	return call(o, func(st store.Store) ([]store.Event, error) { return st.ListEvents(ctx, f) })
}

func (o *opening) CountEvents(ctx context.Context, f store.EventFilter) (int, error) {
	return call(o, func(st store.Store) (int, error) { return st.CountEvents(ctx, f) })
}

func (o *opening) SeqReceivedSince(ctx context.Context, t time.Time) (int64, error) {
	return call(o, func(st store.Store) (int64, error) { return st.SeqReceivedSince(ctx, t) })
}

func (o *opening) AddRejection(ctx context.Context, r *store.Rejection, limits store.RejectionLimits) (int, error) {
	return call(o, func(st store.Store) (int, error) { return st.AddRejection(ctx, r, limits) })
}

func (o *opening) CountRejections(ctx context.Context, counts []store.RejectionCount) error {
	return o.do(func(st store.Store) error { return st.CountRejections(ctx, counts) })
}

func (o *opening) RejectionCounts(ctx context.Context) ([]store.RejectionCount, error) {
	return call(o, func(st store.Store) ([]store.RejectionCount, error) { return st.RejectionCounts(ctx) })
}

func (o *opening) ListRejections(ctx context.Context, limit int) ([]store.Rejection, error) {
	return call(o, func(st store.Store) ([]store.Rejection, error) { return st.ListRejections(ctx, limit) })
}

func (o *opening) GetRejection(ctx context.Context, id int64) (*store.Rejection, error) {
	return call(o, func(st store.Store) (*store.Rejection, error) { return st.GetRejection(ctx, id) })
}

func (o *opening) MarkRejectionReleased(ctx context.Context, id int64, eventID string, at time.Time) error {
	return o.do(func(st store.Store) error { return st.MarkRejectionReleased(ctx, id, eventID, at) })
}

func (o *opening) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	return call(o, func(st store.Store) ([]store.Claim, error) { return st.Claim(ctx, p) })
}

func (o *opening) Complete(ctx context.Context, c store.Completion) error {
	return o.do(func(st store.Store) error { return st.Complete(ctx, c) })
}

func (o *opening) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	st, err := o.get()
	if err != nil {
		return time.Time{}, false, err
	}
	return st.NextDue(ctx)
}

func (o *opening) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	return call(o, func(st store.Store) ([]store.Delivery, error) { return st.ListDeliveries(ctx, f) })
}

func (o *opening) ListAttempts(ctx context.Context, deliveryID int64) ([]store.Attempt, error) {
	return call(o, func(st store.Store) ([]store.Attempt, error) { return st.ListAttempts(ctx, deliveryID) })
}

func (o *opening) Requeue(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	return call(o, func(st store.Store) (int, error) { return st.Requeue(ctx, sel, now) })
}

func (o *opening) AddDeliveries(ctx context.Context, eventIDs []string, destination string, now time.Time) (int, error) {
	return call(o, func(st store.Store) (int, error) { return st.AddDeliveries(ctx, eventIDs, destination, now) })
}

func (o *opening) Discard(ctx context.Context, sel store.DeliverySelector, now time.Time) (int, error) {
	return call(o, func(st store.Store) (int, error) { return st.Discard(ctx, sel, now) })
}

func (o *opening) SetRoutes(ctx context.Context, routes []store.Route) error {
	return o.do(func(st store.Store) error { return st.SetRoutes(ctx, routes) })
}

func (o *opening) Routes(ctx context.Context) (routes []store.Route, recorded bool, err error) {
	st, err := o.get()
	if err != nil {
		return nil, false, err
	}
	return st.Routes(ctx)
}

func (o *opening) SetPaused(ctx context.Context, destination string, paused bool, at time.Time) error {
	return o.do(func(st store.Store) error { return st.SetPaused(ctx, destination, paused, at) })
}

func (o *opening) Paused(ctx context.Context) (map[string]time.Time, error) {
	return call(o, func(st store.Store) (map[string]time.Time, error) { return st.Paused(ctx) })
}

func (o *opening) Backlog(ctx context.Context, destination string) (store.Backlog, error) {
	return call(o, func(st store.Store) (store.Backlog, error) { return st.Backlog(ctx, destination) })
}

func (o *opening) Subject(ctx context.Context, source, subject string) (*store.SubjectState, error) {
	return call(o, func(st store.Store) (*store.SubjectState, error) { return st.Subject(ctx, source, subject) })
}

func (o *opening) Stats(ctx context.Context) (store.Stats, error) {
	return call(o, func(st store.Store) (store.Stats, error) { return st.Stats(ctx) })
}

func (o *opening) Ready(ctx context.Context) error {
	return o.do(func(st store.Store) error { return st.Ready(ctx) })
}

// Prune and OldestEvent make it a retention.Pruner, as both stores are.
func (o *opening) Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error) {
	st, err := o.get()
	if err != nil {
		return 0, 0, err
	}
	return st.Prune(ctx, before, deadBefore, keysBefore, limit)
}

func (o *opening) OldestEvent(ctx context.Context) (at time.Time, ok bool, err error) {
	st, err := o.get()
	if err != nil {
		return time.Time{}, false, err
	}
	return st.OldestEvent(ctx)
}

var (
	_ store.Store           = (*opening)(nil)
	_ dispatch.WorkListener = (*opening)(nil)
	_ retention.Pruner      = (*opening)(nil)
)

func (o *opening) AddMinutes(ctx context.Context, minutes []store.MinuteStats, keepFrom time.Time) error {
	return o.do(func(st store.Store) error { return st.AddMinutes(ctx, minutes, keepFrom) })
}

func (o *opening) Minutes(ctx context.Context, since time.Time) ([]store.MinuteStats, error) {
	return call(o, func(st store.Store) ([]store.MinuteStats, error) { return st.Minutes(ctx, since) })
}
