package dispatch

import (
	"errors"
	"fmt"

	"github.com/hooklatch/hooklatch/internal/outage"
	"github.com/hooklatch/hooklatch/store"
)

// newFailureLog follows the failed attempts of one destination: the first
// is logged at once, the others in a summary every 10s while they go on,
// and the first success after them ends the run with one line.
func newFailureLog(name string, cfg Config) *outage.Log {
	return outage.New(outage.Config{
		Started:  fmt.Sprintf("dispatch: an attempt to deliver to %s failed; until one succeeds, failures are summarised every 10s", name),
		Lasting:  fmt.Sprintf("dispatch: deliveries to %s still fail", name),
		Ended:    fmt.Sprintf("dispatch: deliveries to %s succeed again", name),
		Failures: "failed attempts",
		Attrs:    []any{"destination", name},
		Logger:   cfg.Logger,
		NowFunc:  cfg.Clock.Now,
	})
}

// noteAttempt tells the destination's failure log what an attempt came to.
// A snooze is the destination asking for time, not failing.
func (r *route) noteAttempt(c store.Completion, err error) {
	switch c.Attempt.Outcome {
	case store.OutcomeSucceeded:
		r.failures.OK()
	case store.OutcomeSnoozed:
	default:
		if err == nil {
			err = errors.New(c.Attempt.Error)
		}
		r.failures.Fail(err)
	}
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
