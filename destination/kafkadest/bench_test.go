package kafkadest_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/kafkadest"
)

// BenchmarkKafkaDeliver produces distinct events through a Destination to
// the in-process cluster, from many goroutines, each waiting for acks=all.
// The cluster shares the benchmark's CPUs: compare only with
// BenchmarkKafkaBareProduce.
func BenchmarkKafkaDeliver(b *testing.B) {
	c := newCluster(b)
	d := newDest(b, kafkadest.Config{URL: "kafka://" + c.addr, Topic: c.newTopic(b)})
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error { return destinationtest.Delivered(b, d, next()) })
}

// BenchmarkKafkaBareProduce produces the same records with a plain
// franz-go ProduceSync: the baseline BenchmarkKafkaDeliver is measured
// against.
func BenchmarkKafkaBareProduce(b *testing.B) {
	c := newCluster(b)
	topic := c.newTopic(b)
	cl := c.client(b, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error {
		dl := next()
		rec := &kgo.Record{Key: []byte(dl.Event.Subject), Value: dl.Event.Body}
		for _, f := range destination.Metadata(dl) {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: f.Name, Value: []byte(f.Value)})
		}
		return cl.ProduceSync(b.Context(), rec).FirstErr()
	})
}
