// Package destination is where events go after they are stored: a log, an
// HTTP endpoint, a command, a broker or a Go handler. A Destination says
// how a delivery went with the error it returns, and errors steer what
// happens next:
//
//   - nil: delivered; done.
//   - Permanent(err): cannot succeed by trying again (a 4xx, a handler
//     that rejects the event); the delivery goes to dead at once.
//   - Snooze(d): try again after d without spending an attempt.
//   - RetryAfter(d, err): a temporary failure whose sender asked for a
//     delay (429/503 with Retry-After); retried no sooner than d.
//   - anything else: temporary; retried with backoff until attempts run out.
//
// Each kind of destination is a package (httpdest, redisdest, …) with a
// Config and a New. For the front ends that build destinations from text
// (serve's --forward-to URLs and config file blocks), the package also
// exports its Kind: its name, URL schemes, config block and constructor.
// A front end lists the kinds it offers in one Registry and reads help,
// config keys and the names in its errors from there, so that adding a
// kind is its package and one line in that list.
package destination

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Delivery is one attempt to hand one event to one destination.
type Delivery struct {
	// ID identifies the delivery (the event × destination pair) across
	// attempts.
	ID int64
	// Attempt numbers this attempt among all those of the delivery, from
	// 1: retries, replays and snoozes included, as `events show` lists
	// them. A replay goes on from the last number; it does not restart
	// at 1.
	Attempt int
	// Event is the stored event, with its raw body.
	Event *store.Event
	// TraceParent is the W3C traceparent of this attempt's span, for the
	// destination to pass on with the event (an HTTP header, a message's
	// MetaTraceParent): empty when tracing is off, and then nothing is
	// passed on.
	TraceParent string
	// Stale says that, when the delivery was claimed, a later state of the
	// event's subject had already been received (store.Claim.Stale): an
	// app that applies statuses drops this one. False for an event with no
	// subject.
	Stale bool
	// SubjectStatus is the status of the subject's latest state when the
	// delivery was claimed: the event's own status when it is the latest,
	// the later one that makes it stale otherwise. Empty for an event with
	// no subject.
	SubjectStatus string
}

// Target says what a destination sends to, for the span of each attempt
// (see Traced).
type Target struct {
	// System is a broker's messaging system ("redis", "nats", "rabbitmq",
	// "kafka"): each attempt is then a PRODUCER span following
	// OpenTelemetry's messaging conventions. Empty for an HTTP endpoint.
	System string
	// Destination is what a broker destination publishes to: the stream,
	// subject, topic or queue (messaging.destination.name).
	Destination string
	// Method and URL describe an HTTP endpoint: each attempt is then a
	// CLIENT span following the HTTP conventions. URL has neither
	// credentials nor query, which may carry secrets.
	Method, URL string
	// ServerAddress and ServerPort name the server, when known.
	ServerAddress string
	ServerPort    int
}

// Traced is implemented by destinations that say what they send to, for
// traces. The span of an attempt on any other destination is an INTERNAL
// one, named after its route.
type Traced interface {
	TraceTarget() Target
}

// Destination delivers events.
type Destination interface {
	// Deliver hands d.Event over. It must honour ctx (the attempt's
	// timeout) and must not retain d after returning.
	Deliver(ctx context.Context, d *Delivery) error
}

// Func adapts a function to a Destination.
type Func func(ctx context.Context, d *Delivery) error

// Deliver implements Destination.
func (f Func) Deliver(ctx context.Context, d *Delivery) error { return f(ctx, d) }

// Result is optional detail a Destination can attach to its answer, for the
// attempt's record: wrap an error with WithResult, or return
// WithResult(nil, r) on success.
type Result struct {
	StatusCode int    // HTTP status or exit status; 0 when none
	Response   string // a bounded snippet of what the destination answered
}

// PermanentError marks a failure that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + errString(e.Err) }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as a failure that retrying cannot fix: the delivery
// goes straight to dead. Permanent(nil) is still permanent.
func Permanent(err error) error { return &PermanentError{Err: err} }

// SnoozeError asks for another attempt after Duration, without spending one.
type SnoozeError struct{ Duration time.Duration }

func (e *SnoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.Duration) }

// Snooze asks for another attempt after d, without spending an attempt.
func Snooze(d time.Duration) error { return &SnoozeError{Duration: d} }

// RetryAfterError is a temporary failure whose sender asked for a delay.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%s (retry after %s)", errString(e.Err), e.After)
}
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter marks err as temporary, to be retried no sooner than d.
func RetryAfter(d time.Duration, err error) error { return &RetryAfterError{After: d, Err: err} }

// ConfigError is a destination's objection to one field of its Config,
// returned by its constructor. Field names the field ("URL", "Headers"),
// so that a front end can point at the setting as its users know it (a
// flag, a config file key); Err says what is wrong without naming Go
// identifiers.
type ConfigError struct {
	Package string // the destination's package, e.g. "httpdest"
	Field   string
	// Value, when set, is the value as given that Err is about; messages
	// quote it after the field's name.
	Value string
	Err   error
}

func (e *ConfigError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s: Config.%s %q: %s", e.Package, e.Field, e.Value, errString(e.Err))
	}
	return e.Package + ": Config." + e.Field + ": " + errString(e.Err)
}
func (e *ConfigError) Unwrap() error { return e.Err }

// ResultError carries a Result alongside an outcome.
type ResultError struct {
	Result Result
	Err    error // nil on success
}

func (e *ResultError) Error() string { return errString(e.Err) }
func (e *ResultError) Unwrap() error { return e.Err }

// WithResult attaches r to err (which may be nil: a success with detail).
func WithResult(err error, r Result) error { return &ResultError{Result: r, Err: err} }

// Class is how the dispatcher treats an outcome.
type Class int

const (
	Succeeded Class = iota
	Temporary
	PermanentFailure
	Snoozed
)

func (c Class) String() string {
	switch c {
	case Succeeded:
		return "succeeded"
	case Temporary:
		return "temporary"
	case PermanentFailure:
		return "permanent"
	case Snoozed:
		return "snoozed"
	}
	return "unknown"
}

// Outcome is a classified answer from Deliver.
type Outcome struct {
	Class  Class
	Err    error         // nil on success
	Delay  time.Duration // snooze length, or the sender's Retry-After
	Result Result
}

// Classify turns what Deliver returned into an Outcome, in one place.
func Classify(err error) Outcome {
	var o Outcome
	if re, ok := errors.AsType[*ResultError](err); ok {
		o.Result = re.Result
		err = re.Err
		if err == nil {
			return o
		}
	}
	if err == nil {
		return o
	}
	o.Err = err
	if s, ok := errors.AsType[*SnoozeError](err); ok {
		o.Class, o.Delay, o.Err = Snoozed, s.Duration, nil
		return o
	}
	if _, ok := errors.AsType[*PermanentError](err); ok {
		o.Class = PermanentFailure
		return o
	}
	o.Class = Temporary
	if ra, ok := errors.AsType[*RetryAfterError](err); ok {
		o.Delay = ra.After
	}
	return o
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
