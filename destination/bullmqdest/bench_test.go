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
	e := setupBench(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // 32 in flight on 2 cores, as a dispatcher pool keeps
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			dl := destinationtest.NewDelivery(int(n.Add(1)))
			if o := destination.Classify(e.dest.Deliver(b.Context(), dl)); o.Class != destination.Succeeded {
				b.Fatal(o.Err)
			}
		}
	})
}

// BenchmarkBullMQBare is the floor: an LPUSH of a job's worth of bytes
// (building the sample delivery included, as in BenchmarkBullMQDeliver).
func BenchmarkBullMQBare(b *testing.B) {
	e := setupBench(b)
	key := "bull:" + e.queue + ":bare"
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // 32 in flight on 2 cores, as a dispatcher pool keeps
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			dl := destinationtest.NewDelivery(int(n.Add(1)))
			data := fmt.Sprintf(`{"event":%s,"hooklatch":{"event_id":%q},"raw_body":%q}`, dl.Event.Body, dl.Event.ID, dl.Event.Body)
			if err := e.rdb.LPush(b.Context(), key, data).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func setupBench(b *testing.B) *env { return setup(b, bullmqdest.Config{}) }
