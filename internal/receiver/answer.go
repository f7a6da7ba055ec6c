package receiver

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outcome is what became of one request. Each has one HTTP status, from
// the table below, and one label in the metrics.
type outcome int

const (
	outcomeOK outcome = iota // internal: keep going
	outcomeAccepted
	outcomeDuplicate
	outcomeAttention
	outcomeRejected
	outcomeTooLarge
	outcomeBadMethod
	outcomeBadRequest
	outcomeOverBudget
	outcomeTooSlow
	outcomeUnavailable
	outcomeHandshake
	outcomeNotFound
	numOutcomes
)

var outcomes = [numOutcomes]struct {
	label  string
	status int
}{
	outcomeOK:          {"ok", http.StatusOK},
	outcomeAccepted:    {"accepted", http.StatusOK},
	outcomeDuplicate:   {"duplicate", http.StatusOK},
	outcomeAttention:   {"attention", http.StatusOK},
	outcomeRejected:    {"rejected", http.StatusUnauthorized},
	outcomeTooLarge:    {"too_large", http.StatusRequestEntityTooLarge},
	outcomeBadMethod:   {"bad_method", http.StatusMethodNotAllowed},
	outcomeBadRequest:  {"bad_request", http.StatusBadRequest},
	outcomeOverBudget:  {"over_budget", http.StatusServiceUnavailable},
	outcomeTooSlow:     {"too_slow", http.StatusRequestTimeout},
	outcomeUnavailable: {"unavailable", http.StatusServiceUnavailable},
	outcomeHandshake:   {"handshake", http.StatusOK}, // the status is the provider's
	outcomeNotFound:    {"not_found", http.StatusNotFound},
}

func answer(w http.ResponseWriter, o outcome, body string) outcome {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(outcomes[o].status)
	w.Write([]byte(body))
	return o
}

// Metrics are the receiver's Prometheus collectors. Requests refused
// because the memory budget could not hold their body are counted in
// Requests with the outcome "over_budget".
type Metrics struct {
	Requests          *prometheus.CounterVec
	AckSeconds        prometheus.Histogram
	Rejections        *prometheus.CounterVec // by reason, every one, kept or not
	RejectionsDropped prometheus.Counter
	RejectionsNotKept prometheus.Counter
	MemoryBytes       prometheus.GaugeFunc // held against the memory budget

	held atomic.Pointer[atomic.Int64]
}

// NewMetrics makes the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_webhook_requests_total",
			Help: "Webhook requests answered, by source (the endpoint's name; empty for a path no source serves) and outcome.",
		}, []string{"source", "outcome"}),
		AckSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hooklatch_webhook_ack_seconds",
			Help:    "Time from reading a webhook request to answering it.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .015, .025, .05, .1, .25, .5, 1, 5},
		}),
		RejectionsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hooklatch_rejections_dropped_total",
			Help: "Old rejections dropped from the log to stay within its caps.",
		}),
		RejectionsNotKept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hooklatch_rejections_not_kept_total",
			Help: "Rejected requests counted but not kept as a sample (their reason's samples were all waiting, over the memory budget, store error, too large).",
		}),
		Rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_webhook_rejections_total",
			Help: "Webhook requests that failed verification, by source and reason, whether kept in the rejection log or not.",
		}, []string{"source", "reason"}),
	}
	m.MemoryBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hooklatch_webhook_memory_bytes",
		Help: "Bytes of request bodies being read and rejections waiting to be kept, held against the memory budget.",
	}, func() float64 {
		if p := m.held.Load(); p != nil {
			return float64(p.Load())
		}
		return 0
	})
	if reg != nil {
		reg.MustRegister(m.Requests, m.AckSeconds, m.Rejections, m.RejectionsDropped, m.RejectionsNotKept, m.MemoryBytes)
	}
	return m
}

// outcomeCounts are one source's request counters, by outcome: made once
// per source a receiver serves, so that the source label's values are
// the configured sources' names and counting a request looks nothing up.
type outcomeCounts [numOutcomes]prometheus.Counter

// countsFor returns source's request counters.
func (m *Metrics) countsFor(source string) *outcomeCounts {
	var c outcomeCounts
	for o := outcomeAccepted; o < numOutcomes; o++ {
		c[o] = m.Requests.WithLabelValues(source, outcomes[o].label)
	}
	return &c
}

func (m *Metrics) observe(c *outcomeCounts, o outcome, d time.Duration) {
	if n := c[o]; n != nil {
		n.Inc()
	}
	m.AckSeconds.Observe(d.Seconds())
}
