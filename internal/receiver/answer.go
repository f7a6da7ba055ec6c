package receiver

import (
	"net/http"
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
	outcomeUnavailable
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
	outcomeUnavailable: {"unavailable", http.StatusServiceUnavailable},
}

func answer(w http.ResponseWriter, o outcome, body string) outcome {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(outcomes[o].status)
	w.Write([]byte(body))
	return o
}

// Metrics are the receiver's Prometheus collectors.
type Metrics struct {
	Requests          *prometheus.CounterVec
	AckSeconds        prometheus.Histogram
	RejectionsDropped prometheus.Counter
	RejectionsNotKept prometheus.Counter

	byOutcome [numOutcomes]prometheus.Counter
}

// NewMetrics makes the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_webhook_requests_total",
			Help: "Webhook requests answered, by outcome.",
		}, []string{"outcome"}),
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
			Help: "Rejected requests answered 401 but not kept (queue full, store error, too large).",
		}),
	}
	for o := outcomeAccepted; o < numOutcomes; o++ {
		m.byOutcome[o] = m.Requests.WithLabelValues(outcomes[o].label)
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.AckSeconds, m.RejectionsDropped, m.RejectionsNotKept)
	}
	return m
}

func (m *Metrics) observe(o outcome, d time.Duration) {
	if c := m.byOutcome[o]; c != nil {
		c.Inc()
	}
	m.AckSeconds.Observe(d.Seconds())
}
