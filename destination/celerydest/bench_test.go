package celerydest_test

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

// BenchmarkCeleryDeliver enqueues tasks through a Destination from many
// goroutines, on each transport. Compare with BenchmarkCeleryBare, the
// same broker taking a message of the same size with no Celery layout.
func BenchmarkCeleryDeliver(b *testing.B) {
	for _, tr := range benchBrokers {
		b.Run(tr.name, func(b *testing.B) {
			url := workertest.ServiceURL(b, tr.env, tr.example)
			queue := workertest.Name("hooklatch-celery-bench")
			b.Cleanup(func() { tr.purge(b, url, queue) })
			dest, err := celerydest.New(celerydest.Config{BrokerURL: url, Queue: queue})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = dest.Close() })
			dl := destinationtest.NewDelivery(1)
			b.ReportAllocs()
			b.SetParallelism(16) // 32 in flight on 2 cores, as a dispatcher pool keeps
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if o := destination.Classify(dest.Deliver(b.Context(), dl)); o.Class != destination.Succeeded {
						b.Fatal(o.Err)
					}
				}
			})
		})
	}
}

// BenchmarkCeleryBare is the floor BenchmarkCeleryDeliver is measured
// against: on RabbitMQ a persistent publish of a body of a task's size on
// one confirming channel, waiting for each confirm; on Redis an LPUSH.
func BenchmarkCeleryBare(b *testing.B) {
	body := make([]byte, 1500)
	for _, tr := range benchBrokers {
		b.Run(tr.name, func(b *testing.B) {
			url := workertest.ServiceURL(b, tr.env, tr.example)
			queue := workertest.Name("hooklatch-celery-bench")
			b.Cleanup(func() { tr.purge(b, url, queue) })
			send := tr.bare(b, url, queue)
			b.ReportAllocs()
			b.SetParallelism(16) // 32 in flight on 2 cores, as a dispatcher pool keeps
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := send(b.Context(), body); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

type benchBroker struct {
	name, env, example string
	purge              func(t testing.TB, url, queue string)
	bare               func(b *testing.B, url, queue string) func(context.Context, []byte) error
}

var benchBrokers = []benchBroker{
	{
		name: "amqp", env: "HOOKLATCH_TEST_AMQP", example: "amqp://guest:guest@127.0.0.1:5672/",
		purge: purgeAMQP,
		bare: func(b *testing.B, url, queue string) func(context.Context, []byte) error {
			ch := amqpChannel(b, url)
			if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
				b.Fatal(err)
			}
			if err := ch.Confirm(false); err != nil {
				b.Fatal(err)
			}
			return func(ctx context.Context, body []byte) error {
				dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, true, false,
					amqp.Publishing{DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: body})
				if err != nil {
					return err
				}
				_, err = dc.WaitContext(ctx)
				return err
			}
		},
	},
	{
		name: "redis", env: "HOOKLATCH_TEST_REDIS", example: "redis://127.0.0.1:6379/0",
		purge: purgeRedis,
		bare: func(b *testing.B, url, queue string) func(context.Context, []byte) error {
			opts, err := redis.ParseURL(url)
			if err != nil {
				b.Fatal(err)
			}
			c := redis.NewClient(opts)
			b.Cleanup(func() { _ = c.Close() })
			return func(ctx context.Context, body []byte) error { return c.LPush(ctx, queue, body).Err() }
		},
	},
}
