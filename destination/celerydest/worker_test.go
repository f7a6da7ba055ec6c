package celerydest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

// app is a Celery app as a user writes one: the task takes the event
// envelope and hooklatch's keyword arguments, and notes what it got.
const app = `import json, os
from celery import Celery

app = Celery("hooklatchtest", broker=os.environ["BROKER"])
app.conf.worker_hijack_root_logger = False
out = open(os.environ["OUT"], "a", buffering=1)

@app.task(name=os.environ["TASK"], bind=True)
def process_event(self, event, hooklatch, raw_body, **extra):
    out.write(json.dumps({"task_id": self.request.id, "event": event, "hooklatch": hooklatch,
                          "raw_body": raw_body, "extra": extra,
                          "header_event_id": getattr(self.request, "hooklatch-event-id", None),
                          "header_source": getattr(self.request, "hooklatch-source", None)}) + "\n")
`

// broker is one of the transports a Celery app runs on.
type broker struct {
	name    string
	url     func(t *testing.T) string
	modules []string
	purge   func(t testing.TB, url, queue string)
	count   func(t testing.TB, url, queue string) int
}

var brokers = []broker{
	{
		name: "amqp",
		url: func(t *testing.T) string {
			return workertest.ServiceURL(t, "HOOKLATCH_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")
		},
		modules: []string{"celery"},
		purge:   purgeAMQP,
		count: func(t testing.TB, url, queue string) int {
			ch := amqpChannel(t, url)
			q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			return q.Messages
		},
	},
	{
		name: "redis",
		url: func(t *testing.T) string {
			return workertest.ServiceURL(t, "HOOKLATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
		},
		modules: []string{"celery", "redis"},
		purge:   purgeRedis,
		count: func(t testing.TB, url, queue string) int {
			opts, err := redis.ParseURL(url)
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opts)
			defer c.Close()
			n, err := c.LLen(context.Background(), queue).Result()
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		},
	},
}

// amqpChannel opens a channel of its own on the broker at url, closed
// when t ends.
func amqpChannel(t testing.TB, url string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func purgeAMQP(t testing.TB, url, queue string) {
	ch := amqpChannel(t, url)
	_, _ = ch.QueueDelete(queue, false, false, false)
	_ = ch.ExchangeDelete(queue, false, false)
}

func purgeRedis(t testing.TB, url, queue string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("cleaning up: %v", err)
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	c.Del(context.Background(), queue, "_kombu.binding."+queue)
}

// TestCeleryWorkerRunsEachEvent sends events through the destination, some
// before the worker starts and some while it runs, and checks that a real
// Celery worker ran the task once per event with the event's envelope,
// hooklatch's metadata and the body byte for byte. A second attempt of one
// delivery is sent too: Celery does not deduplicate task ids, so it runs
// again, under the same task id.
func TestCeleryWorkerRunsEachEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Celery worker; not in -short")
	}
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			workertest.NeedPython(t, b.modules...)
			queue := workertest.Name("hooklatch-celery-test")
			t.Cleanup(func() { b.purge(t, url, queue) })
			dest, err := celerydest.New(celerydest.Config{BrokerURL: url, Queue: queue, Task: "tests.process_event"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = dest.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()

			n := workertest.Events(t, 40)
			deliveries := make([]*destination.Delivery, n)
			for i := range deliveries {
				deliveries[i] = destinationtest.NewDelivery(i + 1)
			}
			began := time.Now()
			deliverAll(ctx, t, dest, deliveries[:n/2]) // wait in the queue
			enqueued := time.Since(began)

			w := startWorker(t, url, queue)

			deliverAll(ctx, t, dest, deliveries[n/2:]) // while it runs
			again := *deliveries[3]
			again.Attempt = 2
			deliverAll(ctx, t, dest, []*destination.Delivery{&again})

			w.Received(ctx, t, 1) // the worker is up
			began = time.Now()
			got := w.Received(ctx, t, n+1)
			t.Logf("%d tasks: enqueued %.0f tasks/s by Deliver; the Celery worker (--pool=solo) ran %.0f tasks/s",
				n+1, float64(n/2)/enqueued.Seconds(), float64(n)/time.Since(began).Seconds())
			checkReceived(t, got, deliveries, &again)
		})
	}
}

// startWorker runs app as a Celery worker on queue at the broker url.
func startWorker(t *testing.T, url, queue string) *workertest.Worker {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tests.py"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	return workertest.Start(t, dir, []string{"BROKER=" + url, "TASK=tests.process_event", "PYTHONPATH=" + dir},
		workertest.Python, "-m", "celery", "-A", "tests", "worker", "-Q", queue, "--pool=solo",
		"--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING")
}

func deliverAll(ctx context.Context, t *testing.T, dest destination.Destination, ds []*destination.Delivery) {
	t.Helper()
	var wg sync.WaitGroup
	for _, dl := range ds {
		wg.Go(func() {
			if o := destination.Classify(dest.Deliver(ctx, dl)); o.Class != destination.Succeeded {
				t.Errorf("delivery %d: %s: %v", dl.ID, o.Class, o.Err)
			}
		})
	}
	wg.Wait()
}

func checkReceived(t *testing.T, got []map[string]any, sent []*destination.Delivery, again *destination.Delivery) {
	t.Helper()
	if len(got) != len(sent)+1 {
		t.Errorf("the worker ran %d tasks, want %d", len(got), len(sent)+1)
	}
	byEvent := map[string][]map[string]any{}
	for _, g := range got {
		meta, _ := g["hooklatch"].(map[string]any)
		id, _ := meta["event_id"].(string)
		byEvent[id] = append(byEvent[id], g)
	}
	for _, dl := range sent {
		runs := byEvent[dl.Event.ID]
		want := 1
		if dl.Event.ID == again.Event.ID {
			want = 2
		}
		if len(runs) != want {
			t.Errorf("event %s ran %d times, want %d", dl.Event.ID, len(runs), want)
			continue
		}
		for i, g := range runs {
			if meta, _ := g["hooklatch"].(map[string]any); meta["attempt"] == 2.0 {
				checkTask(t, g, again)
			} else {
				checkTask(t, g, dl)
			}
			if g["task_id"] != celerydest.TaskID(dl) {
				t.Errorf("event %s: task id %v, want %s (the same on every attempt)", dl.Event.ID, g["task_id"], celerydest.TaskID(dl))
			}
			if i == 1 && runs[0]["task_id"] != g["task_id"] {
				t.Errorf("the second attempt has task id %v, the first %v", g["task_id"], runs[0]["task_id"])
			}
		}
	}
}

func checkTask(t *testing.T, g map[string]any, dl *destination.Delivery) {
	t.Helper()
	meta, _ := g["hooklatch"].(map[string]any)
	workertest.CheckPayload(t, workertest.Payload{Event: g["event"], Meta: meta, RawBody: g["raw_body"]}, dl)
	if g["header_event_id"] != dl.Event.ID {
		t.Errorf("event %s: header hooklatch-event-id = %v", dl.Event.ID, g["header_event_id"])
	}
	if g["header_source"] != dl.Event.Source {
		t.Errorf("event %s: header hooklatch-source = %v, want %q", dl.Event.ID, g["header_source"], dl.Event.Source)
	}
	if extra, _ := g["extra"].(map[string]any); len(extra) != 0 {
		t.Errorf("event %s: unexpected keyword arguments %v", dl.Event.ID, extra)
	}
}

// TestServeToCeleryWorker is the whole path: webhooks posted to
// `hooklatch serve --forward-to celery+…` are run by a real Celery worker,
// each once, with its body byte for byte.
func TestServeToCeleryWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and a Celery worker; not in -short")
	}
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.url(t)
			workertest.NeedPython(t, b.modules...)
			queue := workertest.Name("hooklatch-celery-serve")
			t.Cleanup(func() { b.purge(t, url, queue) })
			w := startWorker(t, url, queue)

			bodies := workertest.Bodies(20)
			workertest.Serve(t, "celery+"+url+"?task=tests.process_event&queue="+queue, bodies)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			got := w.Received(ctx, t, len(bodies))
			time.Sleep(500 * time.Millisecond) // a second run of one would show now
			got = w.Received(ctx, t, len(bodies))
			runs := map[string]int{}
			for _, g := range got {
				raw, _ := g["raw_body"].(string)
				runs[raw]++
			}
			for i, body := range bodies {
				if n := runs[string(body)]; n != 1 {
					t.Errorf("webhook %d ran %d times, want once with its body byte for byte", i, n)
				}
			}
			if len(got) != len(bodies) {
				t.Errorf("the worker ran %d tasks, want %d", len(got), len(bodies))
			}
		})
	}
}
