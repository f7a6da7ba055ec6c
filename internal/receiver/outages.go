package receiver

import (
	"context"
	"errors"
	"fmt"

	"github.com/hooklatch/hooklatch/internal/outage"
	"github.com/hooklatch/hooklatch/store"
)

// errOverBudget is what an over-budget answer is logged with.
var errOverBudget = errors.New("the memory budget cannot hold another request body")

// outages log the receiver's 503s: one line when a kind starts, a summary
// every 10s while it lasts, one when it ends, so that a store outage under
// load does not write a line per refused request.
type outages struct {
	store  *outage.Log // the store could not take an event
	budget *outage.Log // the memory budget could not hold a body
}

func newOutages(cfg Config) outages {
	return outages{
		store: outage.New(outage.Config{
			Started:  "receiver: could not store an event; answering 503 until the store takes events again",
			Lasting:  "receiver: the store still cannot take events",
			Ended:    "receiver: the store takes events again",
			Failures: "requests answered 503",
			Logger:   cfg.Logger, NowFunc: cfg.NowFunc,
		}),
		budget: outage.New(outage.Config{
			Started:  "receiver: too many request bodies in flight; answering 503 until the memory budget has room",
			Lasting:  "receiver: the memory budget is still full",
			Ended:    "receiver: the memory budget has room again",
			Failures: "requests answered 503",
			Logger:   cfg.Logger, NowFunc: cfg.NowFunc,
		}),
	}
}

// storeFailed logs that an event could not be stored. The write is not
// the connection's, so a sender that hung up changes nothing here.
func (r *Receiver) storeFailed(ev *store.NewEvent, err error) {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("the store did not confirm event %s within the answer bound; it may still be stored: %w", ev.DedupeKey, err)
	}
	r.outages.store.Fail(err)
}
