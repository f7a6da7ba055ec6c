package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/store"
)

// Metrics are the dispatcher's Prometheus collectors.
type Metrics struct {
	Attempts       *prometheus.CounterVec
	AttemptSeconds *prometheus.HistogramVec
	InFlight       prometheus.Gauge
	// Claimed counts deliveries claimed, by how: "claim", a claim of
	// due deliveries; "append", by the append that created them.
	Claimed        *prometheus.CounterVec
	DeadDeliveries *prometheus.CounterVec
	EventsFiltered *prometheus.CounterVec
	FilterErrors   *prometheus.CounterVec
	// DestinationState is each destination's state as this dispatcher
	// sees it: 0 delivering, 1 paused.
	DestinationState *prometheus.GaugeVec
}

// NewMetrics makes the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_delivery_attempts_total",
			Help: "Delivery attempts, by destination and outcome.",
		}, []string{"destination", "outcome"}),
		AttemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooklatch_delivery_attempt_seconds",
			Help:    "How long delivery attempts took, by destination.",
			Buckets: prometheus.DefBuckets,
		}, []string{"destination"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hooklatch_deliveries_in_flight",
			Help: "Delivery attempts running now.",
		}),
		Claimed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_deliveries_claimed_total",
			Help: "Deliveries claimed for an attempt, by how: claim (due deliveries claimed from the store) or append (claimed in the transaction that stored their event, while the dispatcher had room).",
		}, []string{"by"}),
		DeadDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_deliveries_dead_total",
			Help: "Deliveries that became dead, by destination.",
		}, []string{"destination"}),
		EventsFiltered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_events_filtered_total",
			Help: "Events of a destination's types that its filter kept out, by destination.",
		}, []string{"destination"}),
		FilterErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_filter_errors_total",
			Help: "Events a destination's filter could not judge, and so delivered, by destination.",
		}, []string{"destination"}),
		DestinationState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hooklatch_destination_state",
			Help: "Each destination's state: 0 delivering, 1 paused (hooklatch destinations pause), 2 circuit breaker open.",
		}, []string{"destination"}),
	}
	if reg != nil {
		reg.MustRegister(m.Attempts, m.AttemptSeconds, m.InFlight, m.Claimed, m.DeadDeliveries, m.EventsFiltered, m.FilterErrors, m.DestinationState)
	}
	return m
}

func (m *Metrics) observe(dest string, c store.Completion) {
	m.Attempts.WithLabelValues(dest, string(c.Attempt.Outcome)).Inc()
	m.AttemptSeconds.WithLabelValues(dest).Observe(c.Attempt.Duration.Seconds())
	if c.Status == store.DeliveryDead {
		m.DeadDeliveries.WithLabelValues(dest).Inc()
	}
}
