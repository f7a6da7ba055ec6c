package bullmqdest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// BenchmarkBullMQDeliver adds jobs through a Destination from many
// goroutines, each for a new event. Compare with BenchmarkBullMQBare.
func BenchmarkBullMQDeliver(b *testing.B) {
	e := setup(b, bullmqdest.Config{})
	eachDelivery(b, func(dl *destination.Delivery) error {
		return destination.Classify(e.dest.Deliver(b.Context(), dl)).Err
	})
}

// BenchmarkBullMQBare is the floor: an LPUSH of a job's worth of bytes
// (building the sample delivery included, as in BenchmarkBullMQDeliver).
func BenchmarkBullMQBare(b *testing.B) {
	e := setup(b, bullmqdest.Config{})
	key := "bull:" + e.queue + ":bare"
	eachDelivery(b, func(dl *destination.Delivery) error {
		data := fmt.Sprintf(`{"event":%s,"hooklatch":{"event_id":%q},"raw_body":%q}`, dl.Event.Body, dl.Event.ID, dl.Event.Body)
		return e.rdb.LPush(b.Context(), key, data).Err()
	})
}

// eachDelivery runs send for a new sample delivery per iteration, 32 at a
// time on 2 cores, as a dispatcher pool keeps them in flight.
func eachDelivery(b *testing.B, send func(*destination.Delivery) error) {
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := send(destinationtest.NewDelivery(int(n.Add(1)))); err != nil {
				b.Fatal(err)
			}
		}
	})
}
