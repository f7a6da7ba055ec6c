package dispatch

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/internal/outage"
	"github.com/hooklatch/hooklatch/store"
)

// DefaultFailureLogEvery is how often, at most, a destination that keeps
// failing is summarised in the log, unless Config.FailureLogEvery says.
const DefaultFailureLogEvery = time.Minute

// newFailureLog follows the failed attempts of one destination: the first
// is logged at once, with its event and when the delivery is tried next;
// the others in a summary at most every cfg.FailureLogEvery while they go
// on, with how many deliveries wait for a retry; and the first success
// after them ends the run with one line, saying how long it lasted.
func newFailureLog(r *route, cfg Config) *outage.Log {
	return outage.New(outage.Config{
		Started: fmt.Sprintf("dispatch: a delivery to %s failed; until one succeeds, failures are summarised at most every %s",
			r.Name, cfg.FailureLogEvery),
		Lasting:      fmt.Sprintf("dispatch: deliveries to %s still fail", r.Name),
		Ended:        fmt.Sprintf("dispatch: deliveries to %s recovered", r.Name),
		Failures:     "failed attempts",
		Attrs:        []any{"destination", r.Name},
		SummaryAttrs: func() []any { return r.retrying.attrs(cfg.Clock.Now(), cfg.Lease) },
		Every:        cfg.FailureLogEvery,
		Logger:       cfg.Logger,
		NowFunc:      cfg.Clock.Now,
	})
}

// noteAttempt tells the destination's failure log what an attempt of the
// delivery c claimed came to. A snooze is the destination asking for time,
// not failing.
func (r *route) noteAttempt(c store.Claim, comp store.Completion, err error) {
	id := c.Delivery.ID
	switch comp.Attempt.Outcome {
	case store.OutcomeSucceeded:
		r.retrying.remove(id)
		r.failures.OK()
	case store.OutcomeSnoozed:
	default:
		if err == nil {
			err = errors.New(comp.Attempt.Error)
		}
		attrs := []any{"event_id", c.Delivery.EventID, "delivery_id", id, "attempt", comp.Attempt.Attempt}
		if comp.Attempt.StatusCode != 0 {
			attrs = append(attrs, "status_code", comp.Attempt.StatusCode)
		}
		if comp.Status == store.DeliveryPending {
			r.retrying.add(id, comp.NextAttemptAt)
			attrs = append(attrs, "next_attempt_at", comp.NextAttemptAt)
		} else {
			r.retrying.remove(id)
			attrs = append(attrs, "next_attempt_at", "none: the delivery is dead")
		}
		r.failures.Fail(err, attrs...)
	}
}

// retrying tallies, in memory, the deliveries of one destination whose
// last attempt here failed and that wait for their next: what a summary
// reports as waiting. It costs a map entry per such delivery, up to
// maxRetrying, and a bounded look at them per summary, whatever the size
// of the store. It knows only what this dispatcher did: a delivery another
// instance took over, or that an operator discarded, stays until it is
// overdue by more than a lease (one overdue here is claimed within a
// lease, unless every slot stays busy that long), then is dropped.
type retrying struct {
	mu     sync.Mutex
	due    map[int64]time.Time
	capped bool // a delivery was not tallied: the count is a floor
}

// maxRetrying bounds the tally's memory (about 50 bytes a delivery).
const maxRetrying = 1 << 16

func (w *retrying) add(id int64, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.due == nil {
		w.due = map[int64]time.Time{}
	}
	if _, ok := w.due[id]; !ok && len(w.due) >= maxRetrying {
		w.capped = true
		return
	}
	w.due[id] = at
}

func (w *retrying) remove(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.due, id)
	if len(w.due) == 0 {
		w.capped = false
	}
}

// attrs counts the deliveries waiting, as a summary's attributes, having
// dropped those of up to 1024 (a random sample: map order) that are
// overdue by more than lease.
func (w *retrying) attrs(now time.Time, lease time.Duration) []any {
	w.mu.Lock()
	defer w.mu.Unlock()
	looked := 0
	for id, at := range w.due {
		if looked++; looked > 1024 {
			break
		}
		if now.Sub(at) > lease {
			delete(w.due, id)
		}
	}
	if w.capped {
		return []any{"waiting", len(w.due), "waiting_at_least", true}
	}
	return []any{"waiting", len(w.due)}
}

// newStoreLog follows the dispatcher's own failures to reach the store
// (claims and the records of attempts), which a store outage would
// otherwise log once a poll and once an attempt.
func newStoreLog(cfg Config) *outage.Log {
	return outage.New(outage.Config{
		Started:  "dispatch: the store refused a claim or a record; deliveries wait until it takes them again, and failures are summarised every 10s",
		Lasting:  "dispatch: the store still refuses claims or records",
		Ended:    "dispatch: the store takes claims and records again",
		Failures: "refused claims and records",
		Logger:   cfg.Logger,
		NowFunc:  cfg.Clock.Now,
	})
}

// newFilterLog logs the events the filter of r could not judge, which are
// delivered all the same: a warning at the first, a summary at most every
// FailureLogEvery while they go on.
func newFilterLog(r *route, cfg Config) *outage.Log {
	return outage.New(outage.Config{
		Started: fmt.Sprintf("dispatch: the filter of %s could not judge an event, which is delivered to it all the same; until it judges one, such events are summarised at most every %s",
			r.Name, cfg.FailureLogEvery),
		Lasting:  fmt.Sprintf("dispatch: the filter of %s still cannot judge events", r.Name),
		Ended:    fmt.Sprintf("dispatch: the filter of %s judges events again", r.Name),
		Failures: "events delivered unjudged",
		Attrs:    []any{"destination", r.Name, "filter", r.Filter.String()},
		Every:    cfg.FailureLogEvery,
		Logger:   cfg.Logger,
		NowFunc:  cfg.Clock.Now,
	})
}
