// Package outage logs a failure that lasts as three kinds of line instead
// of one per failure: a warning when it starts, with the error; a summary
// at most every Config.Every while it lasts, with how many failures there
// were since the line before and the last error; and an info line when it
// ends, with how long it lasted and how many failures it caused in all.
//
// A store that cannot write for 31 seconds under load then costs a handful
// of lines, not one per refused request.
package outage

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what a Log is about and where it writes.
type Config struct {
	// Started is the message of the line that opens an outage, such as
	// "receiver: could not store an event; answering 503 until the store
	// takes one". Required.
	Started string
	// Lasting opens the summaries, such as "receiver: the store still
	// cannot take events"; the counts follow it. Required.
	Lasting string
	// Ended opens the line that closes an outage, such as "receiver: the
	// store takes events again"; how long it lasted and the count follow.
	// Required.
	Ended string
	// Failures names what is counted, in the plural, such as "requests
	// answered 503" or "failed attempts". Required.
	Failures string
	// Attrs are added to every line, such as "destination", "app".
	Attrs []any
	// SummaryAttrs, when set, gives attributes added to each summary, such
	// as how much work waits meanwhile. It is called with the Log's lock
	// held, at most once a summary, so it must be cheap and must not call
	// the Log. Defaults to none.
	SummaryAttrs func() []any
	// Every is the least time between two summaries. Defaults to 10s.
	Every time.Duration
	// Quiet is how long without a failure it takes for a success to end
	// an outage: a success among failures (some requests fit while others
	// do not) does not end it, so a flapping failure is not logged as
	// many outages. Defaults to 1s.
	Quiet time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// NowFunc defaults to time.Now.
	NowFunc func() time.Time
}

// Log follows one kind of failure. Fail and OK may be called from any
// goroutine; OK costs one atomic load while nothing is failing.
type Log struct {
	cfg Config

	failing  atomic.Bool
	lastFail atomic.Int64 // Unix nanoseconds of the last failure, while failing

	mu      sync.Mutex
	started time.Time // the first failure
	logged  time.Time // the last line
	since   int64     // failures not yet in a line
	total   int64     // failures since started
	err     error     // the last
}

// New returns a Log that has seen no failure.
func New(cfg Config) *Log {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	return &Log{cfg: cfg}
}

// Fail counts one failure: the first of an outage is logged at once, with
// attrs (such as which request or delivery failed), the others in the next
// summary due.
func (l *Log) Fail(err error, attrs ...any) {
	now := l.cfg.NowFunc()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastFail.Store(now.UnixNano())
	l.total++
	l.err = err
	if !l.failing.Load() {
		l.started, l.logged, l.total = now, now, 1
		l.failing.Store(true)
		l.cfg.Logger.Warn(l.cfg.Started, append(append(l.attrs(), attrs...), "err", err)...)
		return
	}
	l.since++
	if now.Sub(l.logged) >= l.cfg.Every {
		l.summary(now)
	}
}

// OK says the thing that failed worked: it ends the outage when no
// failure came for Config.Quiet.
func (l *Log) OK() {
	if !l.failing.Load() {
		return
	}
	now := l.cfg.NowFunc()
	if now.UnixNano()-l.lastFail.Load() < int64(l.cfg.Quiet) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.failing.Load() || now.UnixNano()-l.lastFail.Load() < int64(l.cfg.Quiet) {
		return
	}
	l.failing.Store(false)
	// From the first failure to the success that ends the outage.
	lasted := now.Sub(l.started).Round(time.Millisecond)
	l.cfg.Logger.Info(fmt.Sprintf("%s after %s; %d %s in all", l.cfg.Ended, lasted, l.total, l.cfg.Failures),
		append(l.attrs(), "lasted", lasted.String(), "failures_total", l.total, "last_err", l.err)...)
	l.since, l.total, l.err = 0, 0, nil
}

// Flush logs the summary owed, if any: for a process stopping in the
// middle of an outage.
func (l *Log) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing.Load() && l.since > 0 {
		l.summary(l.cfg.NowFunc())
	}
}

// summary logs the failures since the last line; l.mu is held.
func (l *Log) summary(now time.Time) {
	window := now.Sub(l.logged).Round(time.Second)
	failingFor := now.Sub(l.started).Round(time.Second)
	attrs := append(l.attrs(), "failures", l.since, "failures_total", l.total, "failing_for", failingFor.String())
	if l.cfg.SummaryAttrs != nil {
		attrs = append(attrs, l.cfg.SummaryAttrs()...)
	}
	l.cfg.Logger.Warn(fmt.Sprintf("%s: %d %s in the last %s, %d in all over %s", l.cfg.Lasting, l.since, l.cfg.Failures, window, l.total, failingFor),
		append(attrs, "err", l.err)...)
	l.logged, l.since = now, 0
}

func (l *Log) attrs() []any {
	return append(make([]any, 0, len(l.cfg.Attrs)+8), l.cfg.Attrs...)
}
