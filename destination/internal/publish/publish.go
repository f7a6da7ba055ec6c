// Package publish holds what every broker destination needs around one
// publish: a bound on publishes in flight that Close can wait out, and the
// attempt's own deadline, told apart from the caller's.
package publish

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

// ErrClosed is the error of a publish attempted after Close. It is
// temporary: another process, or this one restarted, delivers the event.
var ErrClosed = errors.New("the destination is closed")

// Gate admits up to a bound of publishes at once and lets Close wait for
// those admitted to finish. The zero value is not ready; use NewGate.
type Gate struct {
	slots  chan struct{}
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// NewGate returns a Gate that admits n publishes at once.
func NewGate(n int) *Gate { return &Gate{slots: make(chan struct{}, n)} }

// Enter waits for a slot. It fails with ErrClosed after Close, or with ctx's
// error. Every nil return must be followed by one Leave.
func (g *Gate) Enter(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for a free publishing slot: %w", context.Cause(ctx))
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		<-g.slots
		return ErrClosed
	}
	g.wg.Add(1)
	return nil
}

// Leave gives the slot back.
func (g *Gate) Leave() {
	<-g.slots
	g.wg.Done()
}

// Close refuses new publishes and waits for those admitted. It reports
// whether this call closed the gate: false when it was closed already.
func (g *Gate) Close() bool {
	g.mu.Lock()
	was := g.closed
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
	return !was
}

// Begin starts one attempt at dl: it refuses a delivery without an event,
// bounds ctx by timeout (see Attempt) and takes a slot of g. Unless it
// fails, end must be called when the attempt is over.
func (g *Gate) Begin(ctx context.Context, dl *destination.Delivery, timeout time.Duration) (_ context.Context, end func(), err error) {
	if dl == nil || dl.Event == nil {
		return nil, nil, destination.Permanent(errors.New("a delivery without an event"))
	}
	ctx, cancel := Attempt(ctx, timeout)
	if err := g.Enter(ctx); err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { g.Leave(); cancel() }, nil
}

// TimeoutError is the cause of an attempt that ran out of its
// destination's Timeout. It is a context.DeadlineExceeded.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("no confirmation from the broker within %s", e.After)
}
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Attempt bounds ctx by timeout; when that is what ends it, its cause is
// a *TimeoutError.
func Attempt(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, timeout, &TimeoutError{After: timeout})
}

// Explain returns err, or, when ctx is done, ctx's cause: the words for an
// attempt that gave up waiting rather than a library's.
func Explain(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
	}
	return err
}

// QueryProblem is what CheckQuery found wrong with a URL's query.
type QueryProblem struct {
	Field string // the Config field the problem belongs to
	Err   error
}

// CheckQuery looks at the query of raw, a URL given to a destination's New:
// a parameter that names one of the destination's own fields (own maps
// parameter to field) belongs in that field, since New does not read it
// from the URL; any other must be one the client library reads (library),
// unless anyLibrary says the library checks its own. It returns nil when
// the query is fine.
func CheckQuery(raw string, own map[string]string, library []string, anyLibrary bool) *QueryProblem {
	_, query, _ := strings.Cut(raw, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return &QueryProblem{Field: "URL", Err: err}
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if field, ok := own[k]; ok {
			return &QueryProblem{Field: field, Err: fmt.Errorf("set it here, not as %s= in the URL", k)}
		}
		if !anyLibrary && !slices.Contains(library, k) {
			return &QueryProblem{Field: "URL", Err: fmt.Errorf("unknown query parameter %s", k)}
		}
	}
	return nil
}

// Target describes a broker destination for traces (destination.Traced):
// its messaging system, what it publishes to, and the server of addr, a
// URL or a host:port (the first of a comma-separated list).
func Target(system, dest, addr string) destination.Target {
	t := destination.Target{System: system, Destination: dest}
	addr, _, _ = strings.Cut(addr, ",")
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	t.ServerAddress = host
	t.ServerPort, _ = strconv.Atoi(port)
	return t
}

// AddTraceParent adds dl's traceparent to a message's metadata with add,
// when tracing is on: see destination.MetaTraceParent.
func AddTraceParent(dl *destination.Delivery, add func(name, value string)) {
	if dl.TraceParent != "" {
		add(destination.MetaTraceParent, dl.TraceParent)
	}
}
