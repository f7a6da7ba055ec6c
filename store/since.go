package store

import "context"

// MaxCount bounds CountEvents' limit.
const MaxCount = 100000

// SinceWindow is how many events from a seq on SeqSince reads to say
// whether the events received since a time begin there.
const SinceWindow = 64

// SeqSince is how both backends find SeqReceivedSince without an index of
// received times. Events are stored in the order they are received, so
// received times grow with seq but for a few stored out of order (a slow
// request stored after a quicker one, a released rejection keeping the
// time it was first received). SeqSince bisects the seqs from first to
// last, a few reads per halving, for the lowest seq s such that one of
// the SinceWindow events from s on was received at t or later (since
// reports that); it returns last+1 when none from last on was. Every
// event received at t or later has a seq at or above the one returned,
// unless it was stored more than SinceWindow events before one received
// earlier than t: only a clock stepping back would do that. Above it lie
// also the events received earlier and stored later: a walk still tests
// each one's time.
func SeqSince(ctx context.Context, first, last int64, since func(ctx context.Context, seq int64) (bool, error)) (int64, error) {
	if first > last {
		return first, nil
	}
	// Often every event is: one read then.
	if ok, err := since(ctx, first); ok || err != nil {
		return first, err
	}
	lo, hi := first+1, last+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		ok, err := since(ctx, mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// CountLimit is CountEvents' limit: 100 by default, at most MaxCount.
func CountLimit(limit int) int {
	if limit <= 0 {
		limit = 100
	}
	return min(limit, MaxCount)
}
