package dispatch

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy decides how long to wait before the next attempt.
type RetryPolicy interface {
	// NextRetry returns the wait after attempt (1-based) failed with err.
	NextRetry(attempt int, err error) time.Duration
}

// Backoff is exponential backoff with jitter: Initial after the first
// failure, doubling up to Max, each wait drawn from [d/2, d] so that
// deliveries that failed together do not retry together.
type Backoff struct {
	Initial time.Duration // Defaults to 2s.
	Max     time.Duration // Defaults to 1h.
	// RandFunc returns a number in [0, 1). Defaults to math/rand/v2.
	RandFunc func() float64
}

// NextRetry implements RetryPolicy.
func (b Backoff) NextRetry(attempt int, _ error) time.Duration {
	initial, maxWait := b.Initial, b.Max
	if initial <= 0 {
		initial = 2 * time.Second
	}
	if maxWait <= 0 {
		maxWait = time.Hour
	}
	d := initial
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	r := rand.Float64
	if b.RandFunc != nil {
		r = b.RandFunc
	}
	return d/2 + time.Duration(r()*float64(d/2))
}

// DefaultTimeout bounds an attempt when a Policy does not say.
const DefaultTimeout = 30 * time.Second

// Policy is how one destination is treated.
type Policy struct {
	// MaxAttempts bounds the attempts; then the delivery is dead.
	// Defaults to 15: with the default backoff the last comes 2.1 to 4.1
	// hours after the first.
	MaxAttempts int
	// Retry spaces the attempts. Defaults to Backoff{}.
	Retry RetryPolicy
	// Timeout bounds one attempt. Defaults to 30s.
	Timeout time.Duration
	// Concurrency bounds the attempts in flight to this destination. Set,
	// it bounds them over every process sharing the store (PostgreSQL)
	// together: a process claims a delivery of the destination only while
	// fewer than Concurrency of its deliveries are in flight in all of
	// them (store.ClaimParams.Concurrency). Defaults to 16 in each
	// process, not shared: several instances then add up their 16s.
	Concurrency int
	// Rate bounds how often attempts to this destination start, in this
	// process (limit.go). Defaults to none.
	Rate Rate
	// BreakerFailures is how many consecutive failed attempts open the
	// destination's circuit breaker in this process (breaker.go); below
	// zero, it has none. Defaults to DefaultBreakerFailures.
	BreakerFailures int
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 15
	}
	if p.Retry == nil {
		p.Retry = Backoff{}
	}
	if p.Timeout <= 0 {
		p.Timeout = DefaultTimeout
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 16
	}
	if p.BreakerFailures == 0 {
		p.BreakerFailures = DefaultBreakerFailures
	}
	return p
}
