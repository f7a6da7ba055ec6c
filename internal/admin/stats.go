package admin

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/store"
)

// SenderRetryHorizon is how long Sent keeps retrying an event it could
// not deliver, on the reference schedule (attempts at 0, +1, +2, +4 … +64
// seconds): an outage longer than this loses events upstream.
const SenderRetryHorizon = 127 * time.Second

// keptMinutes is how many minutes of stats are kept, in memory and in
// the store.
const keptMinutes = 60

// Minute is what happened in one minute.
type Minute struct {
	Start      time.Time `json:"start"`
	Received   int64     `json:"received"`   // accepted, attention included
	Duplicates int64     `json:"duplicates"` // acknowledged, not stored again
	Rejected   int64     `json:"rejected"`   // failed verification (401)
	Refused    int64     `json:"refused"`    // 503: the store or the memory budget could not take them
	Delivered  int64     `json:"delivered"`  // attempts that succeeded
	Failed     int64     `json:"failed"`     // attempts that failed (temporary, permanent, lost)
	Dead       int64     `json:"dead"`       // attempts that left their delivery dead
	// Ack latency percentiles of the minute's answers, in milliseconds,
	// estimated from the histogram's buckets; zero without answers.
	AckP50 float64 `json:"ack_p50_ms"`
	AckP90 float64 `json:"ack_p90_ms"`
	AckP99 float64 `json:"ack_p99_ms"`

	ack []int64 // answers per histogram bucket (not cumulative)
}

func (m Minute) stored() store.MinuteStats {
	return store.MinuteStats{Start: m.Start, Received: m.Received, Duplicates: m.Duplicates, Rejected: m.Rejected,
		Refused: m.Refused, Delivered: m.Delivered, Failed: m.Failed, Dead: m.Dead, AckBuckets: slices.Clone(m.ack)}
}

func fromStored(m store.MinuteStats) Minute {
	return Minute{Start: m.Start, Received: m.Received, Duplicates: m.Duplicates, Rejected: m.Rejected,
		Refused: m.Refused, Delivered: m.Delivered, Failed: m.Failed, Dead: m.Dead, ack: m.AckBuckets}
}

// Queue is the state of the deliveries now.
type Queue struct {
	Pending  int64 `json:"pending"`
	InFlight int64 `json:"in_flight"`
	Dead     int64 `json:"dead"`
	// Depth is pending plus in flight.
	Depth int64 `json:"depth"`
	// OldestPendingSeconds is how long the longest-waiting due delivery
	// has waited past its due time; zero when none is due.
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
}

// counts are the running totals the minutes are the differences of.
type counts struct {
	received, duplicates, rejected, refused float64
	delivered, failed, dead                 float64
	ack                                     []float64 // cumulative, by bucket
}

// stats samples the receiver's and dispatcher's counters into minutes and
// watches whether the receiver can accept: all off the request path.
type stats struct {
	rcv    *receiver.Metrics
	disp   *dispatch.Metrics
	st     store.Store
	ready  func(context.Context) error
	bounds []float64 // the ack histogram's upper bounds

	mu sync.Mutex
	// minutes are this process's, not yet written to the store: the
	// current one, and any whose write failed. history is what the store
	// holds (on PostgreSQL, summed over every instance), read once a
	// minute; report adds the two up.
	minutes []Minute
	history []Minute
	prev    counts
	started bool
	queue   Queue
	outage  outage
}

func newStats(rcv *receiver.Metrics, disp *dispatch.Metrics, st store.Store, ready func(context.Context) error) *stats {
	s := &stats{rcv: rcv, disp: disp, st: st, ready: ready}
	if rcv != nil {
		var m dto.Metric
		if rcv.AckSeconds.Write(&m) == nil {
			for _, b := range m.GetHistogram().GetBucket() {
				s.bounds = append(s.bounds, b.GetUpperBound())
			}
		}
	}
	return s
}

// sumVec adds up the children of a counter vector whose label named key
// passes keep.
func sumVec(c prometheus.Collector, key string, keep func(string) bool) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	total := 0.0
	for pm := range ch {
		var m dto.Metric
		if pm.Write(&m) != nil {
			continue
		}
		for _, l := range m.GetLabel() {
			if l.GetName() == key && keep(l.GetValue()) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func (s *stats) read() counts {
	var c counts
	if r := s.rcv; r != nil {
		out := func(o string) float64 { return sumVec(r.Requests, "outcome", func(v string) bool { return v == o }) }
		c.received = out("accepted") + out("attention")
		c.duplicates = out("duplicate")
		c.rejected = out("rejected")
		c.refused = out("unavailable") + out("over_budget")
		var m dto.Metric
		if r.AckSeconds.Write(&m) == nil {
			for _, b := range m.GetHistogram().GetBucket() {
				c.ack = append(c.ack, float64(b.GetCumulativeCount()))
			}
		}
	}
	if d := s.disp; d != nil {
		c.delivered = sumVec(d.Attempts, "outcome", func(o string) bool { return store.AttemptOutcome(o) == store.OutcomeSucceeded })
		c.failed = sumVec(d.Attempts, "outcome", func(o string) bool {
			return store.AttemptOutcome(o) != store.OutcomeSucceeded && store.AttemptOutcome(o) != store.OutcomeSnoozed
		})
		c.dead = sumVec(d.DeadDeliveries, "destination", func(string) bool { return true })
	}
	return c
}

// sample adds what happened since the last sample to now's minute, and
// moves the outage watch on.
func (s *stats) sample(ctx context.Context, now time.Time) {
	c := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.prev, s.started = c, true
		return
	}
	p := s.prev
	s.prev = c
	start := now.Truncate(time.Minute)
	if n := len(s.minutes); n == 0 || !s.minutes[n-1].Start.Equal(start) {
		s.minutes = append(s.minutes, Minute{Start: start, ack: make([]int64, len(s.bounds))})
		if len(s.minutes) > keptMinutes {
			s.minutes = slices.Delete(s.minutes, 0, len(s.minutes)-keptMinutes)
		}
	}
	m := &s.minutes[len(s.minutes)-1]
	m.Received += int64(c.received - p.received)
	m.Duplicates += int64(c.duplicates - p.duplicates)
	m.Rejected += int64(c.rejected - p.rejected)
	m.Refused += int64(c.refused - p.refused)
	m.Delivered += int64(c.delivered - p.delivered)
	m.Failed += int64(c.failed - p.failed)
	m.Dead += int64(c.dead - p.dead)
	below := 0.0
	for i := range min(len(c.ack), len(p.ack), len(m.ack)) {
		in := c.ack[i] - p.ack[i]
		m.ack[i] += int64(in - below)
		below = in
	}
	s.outage.observe(now, c.received+c.duplicates, c.refused, func() error {
		if s.ready == nil {
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return s.ready(pctx)
	})
}

// report returns the kept minutes, oldest first, with their percentiles:
// those the store holds plus this process's not yet written.
func (s *stats) report(now time.Time) []Minute {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := now.Truncate(time.Minute).Add(-(keptMinutes - 1) * time.Minute)
	byStart := map[time.Time]*store.MinuteStats{}
	var starts []time.Time
	for _, ms := range [][]Minute{s.history, s.minutes} {
		for _, m := range ms {
			if m.Start.Before(from) {
				continue
			}
			if sum, ok := byStart[m.Start]; ok {
				sum.Add(m.stored())
				continue
			}
			st := m.stored()
			byStart[m.Start] = &st
			starts = append(starts, m.Start)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	out := make([]Minute, len(starts))
	for i, start := range starts {
		m := fromStored(*byStart[start])
		perBucket := make([]float64, len(m.ack))
		for j, n := range m.ack {
			perBucket[j] = float64(n)
		}
		if len(perBucket) == len(s.bounds) {
			m.AckP50, m.AckP90, m.AckP99 = percentile(s.bounds, perBucket, .5), percentile(s.bounds, perBucket, .9), percentile(s.bounds, perBucket, .99)
		}
		m.ack = nil
		out[i] = m
	}
	return out
}

// flush writes this process's minutes that have ended by now (every one,
// the current too, when final) to the store, adding them to what the
// store holds, and reads the store's history back. It runs once a minute
// on the sampler's goroutine, never on a request's path. A minute whose
// write failed stays in memory and is tried again at the next flush.
func (s *stats) flush(ctx context.Context, now time.Time, final bool) error {
	current := now.Truncate(time.Minute)
	keepFrom := current.Add(-(keptMinutes - 1) * time.Minute)
	s.mu.Lock()
	var ended []store.MinuteStats
	for _, m := range s.minutes {
		if final || m.Start.Before(current) {
			ended = append(ended, m.stored())
		}
	}
	s.mu.Unlock()
	if len(ended) > 0 {
		if err := s.st.AddMinutes(ctx, ended, keepFrom); err != nil {
			return fmt.Errorf("writing the per-minute history: %w", err)
		}
		s.mu.Lock()
		s.minutes = slices.DeleteFunc(s.minutes, func(m Minute) bool {
			return slices.ContainsFunc(ended, func(e store.MinuteStats) bool { return e.Start.Equal(m.Start) })
		})
		// Until the history is read back, it holds what was just written.
		for _, e := range ended {
			s.history = append(s.history, fromStored(e))
		}
		s.history = slices.DeleteFunc(s.history, func(m Minute) bool { return m.Start.Before(keepFrom) })
		s.mu.Unlock()
	}
	if final {
		return nil
	}
	stored, err := s.st.Minutes(ctx, keepFrom)
	if err != nil {
		return fmt.Errorf("reading the per-minute history: %w", err)
	}
	history := make([]Minute, len(stored))
	for i, m := range stored {
		history[i] = fromStored(m)
	}
	s.mu.Lock()
	s.history = history
	s.mu.Unlock()
	return nil
}

// percentile estimates the q-quantile, in milliseconds, of the answers
// counted per bucket (bounds are the buckets' upper bounds, in seconds),
// by linear interpolation within the bucket it falls in.
func percentile(bounds, perBucket []float64, q float64) float64 {
	total := 0.0
	for _, n := range perBucket {
		total += n
	}
	if total == 0 {
		return 0
	}
	target, seen, lower := q*total, 0.0, 0.0
	for i, n := range perBucket {
		if n > 0 && seen+n >= target {
			v := lower + (bounds[i]-lower)*(target-seen)/n
			return math.Round(v*1e6) / 1e3
		}
		seen, lower = seen+n, bounds[i]
	}
	return math.Round(lower*1e6) / 1e3 // past the last bound
}

// readQueue reads the deliveries' state, and the counts it comes from,
// from the store: counters, and the oldest thousand pending deliveries.
func readQueue(ctx context.Context, st store.Store, now time.Time) (Queue, store.Stats, error) {
	ss, err := st.Stats(ctx)
	if err != nil {
		return Queue{}, ss, err
	}
	q := Queue{Pending: ss.Deliveries[store.DeliveryPending], InFlight: ss.Deliveries[store.DeliveryInFlight], Dead: ss.Deliveries[store.DeliveryDead]}
	q.Depth = q.Pending + q.InFlight
	if q.Pending == 0 {
		return q, ss, nil
	}
	// The oldest ids are the longest-waiting; a thousand of them is enough
	// to find the one most overdue.
	ds, err := st.ListDeliveries(ctx, store.DeliveryFilter{Status: store.DeliveryPending, Limit: 1000})
	if err != nil {
		return Queue{}, ss, err
	}
	for _, d := range ds {
		if late := now.Sub(d.NextAttemptAt).Seconds(); late > q.OldestPendingSeconds {
			q.OldestPendingSeconds = late
		}
	}
	return q, ss, nil
}

func (s *stats) setQueue(q Queue) {
	s.mu.Lock()
	s.queue = q
	s.mu.Unlock()
}

func (s *stats) cachedQueue() Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue
}

func (s *stats) unavailable(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outage.duration(now)
}

// idleProbe is how often the outage watch asks the store whether it can
// take writes when no webhook arrives to tell.
const idleProbe = 5 * time.Second

// outage tracks since when the receiver has been unable to accept: it
// answered 503 and accepted nothing, or, with no traffic to judge by, the
// store failed its readiness probe.
type outage struct {
	since         time.Time // zero while accepting
	ok, refused   float64   // the totals at the last look
	probedAt      time.Time
	seenOneSample bool
}

func (o *outage) observe(now time.Time, ok, refused float64, probe func() error) {
	dOK, dRefused := ok-o.ok, refused-o.refused
	o.ok, o.refused = ok, refused
	first := !o.seenOneSample
	o.seenOneSample = true
	switch {
	case first:
	case dOK > 0:
		o.since = time.Time{}
		return
	case dRefused > 0:
		if o.since.IsZero() {
			o.since = now
		}
		return
	}
	if !o.since.IsZero() || now.Sub(o.probedAt) >= idleProbe {
		o.probedAt = now
		if err := probe(); err != nil {
			if o.since.IsZero() {
				o.since = now
			}
		} else {
			o.since = time.Time{}
		}
	}
}

func (o *outage) duration(now time.Time) time.Duration {
	if o.since.IsZero() {
		return 0
	}
	return now.Sub(o.since)
}
