package receiver

import (
	"context"
	"errors"
	"log/slog"

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

// storeFailed logs that an event could not be stored. A sender that hung
// up is no outage of the store: it will retry, and that is logged at
// debug level only.
func (r *Receiver) storeFailed(ctx context.Context, ev *store.Event, err error) {
	if ctx.Err() != nil {
		r.cfg.Logger.Log(ctx, slog.LevelDebug, "receiver: could not store event, answering 503", "dedupe_key", ev.DedupeKey, "err", err)
		return
	}
	r.outages.store.Fail(err)
}
