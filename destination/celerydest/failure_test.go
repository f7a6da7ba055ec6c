package celerydest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

// TestCeleryBrokerDownIsTemporary checks that a broker that does not
// answer is a temporary failure on either transport, never a success.
func TestCeleryBrokerDownIsTemporary(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"amqp://guest:guest@127.0.0.1:1/", "redis://127.0.0.1:1/0"} {
		dest, err := celerydest.New(celerydest.Config{BrokerURL: url})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		o := destination.Classify(dest.Deliver(ctx, destinationtest.NewDelivery(1)))
		cancel()
		if o.Class != destination.Temporary {
			t.Errorf("%s: %s (%v), want temporary", url, o.Class, o.Err)
		}
		if err := dest.Close(); err != nil {
			t.Errorf("%s: Close: %v", url, err)
		}
	}
}

// TestCeleryUnroutableIsTemporary deletes the queue under a connected
// destination: RabbitMQ confirms the message it could not route, and only
// the mandatory flag's return says it went nowhere. That must not count as
// delivered.
func TestCeleryUnroutableIsTemporary(t *testing.T) {
	url := workertest.ServiceURL(t, "HOOKLATCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
	queue := workertest.Name("hooklatch-celery-test")
	dest, err := celerydest.New(celerydest.Config{BrokerURL: url, Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	if o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(1))); o.Class != destination.Succeeded {
		t.Fatalf("first delivery: %s: %v", o.Class, o.Err)
	}
	if n, err := amqpChannel(t, url).QueueDelete(queue, false, false, false); err != nil || n != 1 {
		t.Fatalf("deleting the queue: %d messages, %v", n, err)
	}
	o := destination.Classify(dest.Deliver(t.Context(), destinationtest.NewDelivery(2)))
	if o.Class != destination.Temporary || !strings.Contains(o.Err.Error(), "returned") {
		t.Errorf("delivery to a deleted queue: %s (%v), want temporary, saying the message was returned", o.Class, o.Err)
	}
}

// TestCeleryConcurrentDeliveries sends deliveries from many goroutines on
// each transport, closes the destination, and counts the messages the
// broker holds: one per delivery. A cancelled attempt never counts as
// delivered.
func TestCeleryConcurrentDeliveries(t *testing.T) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			queue := workertest.Name("hooklatch-celery-test")
			t.Cleanup(func() { b.purge(t, url, queue) })
			dest, err := celerydest.New(celerydest.Config{BrokerURL: url, Queue: queue})
			if err != nil {
				t.Fatal(err)
			}
			cancelled, cancel := context.WithCancel(t.Context())
			cancel()
			if o := destination.Classify(dest.Deliver(cancelled, destinationtest.NewDelivery(1))); o.Class == destination.Succeeded {
				t.Error("a delivery with a cancelled context succeeded")
			}
			const n = 64
			ds := make([]*destination.Delivery, n)
			for i := range ds {
				ds[i] = destinationtest.NewDelivery(i + 1)
			}
			deliverAll(t.Context(), t, dest, ds)
			if err := dest.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := b.count(t, url, queue); got != n {
				t.Errorf("the queue holds %d messages after %d deliveries", got, n)
			}
			if o := destination.Classify(dest.Deliver(t.Context(), ds[0])); o.Class == destination.Succeeded {
				t.Error("a delivery after Close succeeded")
			}
		})
	}
}
