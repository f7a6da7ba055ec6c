package admin

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// metrics are the collectors admin adds to the registry: the state of the
// queue (read by the sampler, never at scrape time, so a scrape costs the
// store nothing), the store's files, the outage gauge, and the latency
// from receipt to delivery.
type metrics struct {
	deliveryLatency *prometheus.HistogramVec
	// authFailures counts wrong admin tokens and ended sessions;
	// authRefused the requests refused unheard for too many of them.
	authFailures, authRefused prometheus.Counter
}

func (a *Admin) registerMetrics(reg prometheus.Registerer, files map[string]string) {
	a.metrics.deliveryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hooklatch_delivery_latency_seconds",
		Help:    "Time from an event's receipt to its successful delivery, by destination.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
	}, []string{"destination"})
	a.metrics.authFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hooklatch_admin_auth_failures_total",
		Help: "Requests to the admin listener with a wrong token or an ended session.",
	})
	a.metrics.authRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hooklatch_admin_auth_refused_total",
		Help: "Requests to the admin listener refused (429) unheard, their address having failed too often.",
	})
	if reg == nil {
		return
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	q := func(f func(Queue) int64) func() float64 {
		return func() float64 { return float64(f(a.stats.cachedQueue())) }
	}
	cs := []prometheus.Collector{
		a.metrics.deliveryLatency, a.metrics.authFailures, a.metrics.authRefused,
		gauge("hooklatch_queue_depth", "Deliveries pending or in flight (sampled every few seconds).",
			q(func(q Queue) int64 { return q.Depth })),
		gauge("hooklatch_deliveries_pending", "Deliveries waiting for an attempt (sampled).",
			q(func(q Queue) int64 { return q.Pending })),
		gauge("hooklatch_dead_letters", "Dead deliveries waiting for a retry, replay or discard (sampled).",
			q(func(q Queue) int64 { return q.Dead })),
		gauge("hooklatch_oldest_pending_seconds", "How long the most overdue pending delivery has waited past its due time (sampled).",
			func() float64 { return a.stats.cachedQueue().OldestPendingSeconds }),
		gauge("hooklatch_receiver_unavailable_seconds",
			"How long the receiver has been unable to accept webhooks (answering 503, or the store failing its probe); 0 while it accepts. Compare with hooklatch_sender_retry_horizon_seconds.",
			func() float64 { return a.stats.unavailable(a.now()).Seconds() }),
		gauge("hooklatch_sender_retry_horizon_seconds",
			"How long Sent retries an event before giving up on the reference schedule: an outage longer than this loses events upstream.",
			func() float64 { return SenderRetryHorizon.Seconds() }),
		gauge("hooklatch_live_stream_subscribers", "Clients following the live stream.",
			func() float64 { return float64(a.tail.hub.count()) }),
	}
	if len(files) > 0 {
		cs = append(cs, newFileSizes(files))
	}
	reg.MustRegister(cs...)
}

// observeAttempt feeds the delivery latency histogram.
func (a *Admin) observeAttempt(at dispatch.Attempted) {
	c := at.Completion
	if c.Status == store.DeliverySucceeded && at.RecordErr == nil && !at.Event.ReceivedAt.IsZero() {
		end := c.Attempt.StartedAt.Add(c.Attempt.Duration)
		a.metrics.deliveryLatency.WithLabelValues(at.Route).Observe(max(end.Sub(at.Event.ReceivedAt), 0).Seconds())
	}
}

// fileSizes reports the size of the store's files (the database and its
// write-ahead log) at each scrape: a stat each, nothing read.
type fileSizes struct {
	desc  *prometheus.Desc
	files map[string]string // label → path
}

func newFileSizes(files map[string]string) *fileSizes {
	return &fileSizes{
		desc:  prometheus.NewDesc("hooklatch_store_file_bytes", "Size of the store's files: the database (file=\"db\") and its write-ahead log (file=\"wal\").", []string{"file"}, nil),
		files: files,
	}
}

func (f *fileSizes) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

func (f *fileSizes) Collect(ch chan<- prometheus.Metric) {
	for label, path := range f.files {
		size := 0.0
		if fi, err := os.Stat(path); err == nil {
			size = float64(fi.Size())
		}
		ch <- prometheus.MustNewConstMetric(f.desc, prometheus.GaugeValue, size, label)
	}
}
