package redisdest_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
)

// BenchmarkRedisDeliver appends distinct events through a Destination,
// from many goroutines: the idempotent script, one round trip each.
func BenchmarkRedisDeliver(b *testing.B) {
	raw, c := server(b)
	d := newDest(b, redisdest.Config{URL: raw, Stream: newStream(b, c), DedupeWindow: time.Minute}) // its seen keys go soon
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error { return destinationtest.Delivered(b, d, next()) })
}

// BenchmarkRedisBareXADD appends the same entries with a plain XADD from
// go-redis, without the dedupe: the baseline BenchmarkRedisDeliver is
// measured against.
func BenchmarkRedisBareXADD(b *testing.B) {
	_, c := server(b)
	stream := newStream(b, c)
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error {
		dl := next()
		values := []any{redisdest.FieldBody, dl.Event.Body}
		for _, f := range destination.Metadata(dl) {
			values = append(values, f.Name, f.Value)
		}
		return c.XAdd(b.Context(), &redis.XAddArgs{Stream: stream, Values: values}).Err()
	})
}
