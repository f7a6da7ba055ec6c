package destinationtest

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
)

// BenchParallelism is how many goroutines per CPU a broker benchmark
// delivers from (b.SetParallelism), as the dispatcher's workers would.
const BenchParallelism = 32

// Distinct returns a function that hands out copies of NewDelivery(1), each
// with an event ID of its own, for benchmarks against brokers that dedupe.
// It is safe for concurrent use.
func Distinct() func() *destination.Delivery {
	tmpl := NewDelivery(1)
	var n atomic.Int64
	return func() *destination.Delivery {
		ev := *tmpl.Event
		ev.ID = strconv.FormatInt(n.Add(1), 10) + "-" + tmpl.Event.ID
		return &destination.Delivery{ID: tmpl.ID, Attempt: 1, Event: &ev}
	}
}

// RunParallel runs op from BenchParallelism goroutines per CPU and reports
// deliveries/s.
func RunParallel(b *testing.B, op func() error) {
	b.SetParallelism(BenchParallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}

// Delivered runs dest.Deliver on d and returns the error of any outcome but
// success.
func Delivered(b *testing.B, dest destination.Destination, d *destination.Delivery) error {
	return destination.Classify(dest.Deliver(b.Context(), d)).Err
}
