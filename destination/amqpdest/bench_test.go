package amqpdest_test

import (
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/amqpdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// benchQueue declares a queue of the benchmark's own, deleted after it.
func benchQueue(b *testing.B, ch *amqp.Channel) string {
	q := destinationtest.UniqueName("hooklatch-bench-")
	if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _, _ = ch.QueueDelete(q, false, false, false) })
	return q
}

// BenchmarkAMQPDeliver publishes distinct events through a Destination,
// from many goroutines, each waiting for its confirmation.
func BenchmarkAMQPDeliver(b *testing.B) {
	raw, ch := server(b)
	d := newDest(b, amqpdest.Config{URL: raw, RoutingKey: benchQueue(b, ch)})
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error { return destinationtest.Delivered(b, d, next()) })
}

// BenchmarkAMQPBarePublish publishes the same messages, persistent and
// mandatory, on one confirming channel with amqp091-go's deferred
// confirmations: the baseline BenchmarkAMQPDeliver is measured against.
func BenchmarkAMQPBarePublish(b *testing.B) {
	raw, setup := server(b)
	q := benchQueue(b, setup)
	conn, err := amqp.Dial(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex // amqp091-go channels take one publisher at a time
	next := destinationtest.Distinct()
	destinationtest.RunParallel(b, func() error {
		dl := next()
		headers := amqp.Table{}
		for _, f := range destination.Metadata(dl) {
			headers[f.Name] = f.Value
		}
		mu.Lock()
		dc, err := ch.PublishWithDeferredConfirmWithContext(b.Context(), "", q, true, false, amqp.Publishing{
			Headers: headers, DeliveryMode: amqp.Persistent, MessageId: dl.Event.ID, Body: dl.Event.Body,
		})
		mu.Unlock()
		if err != nil {
			return err
		}
		_, err = dc.WaitContext(b.Context())
		return err
	})
}
