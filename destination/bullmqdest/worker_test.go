package bullmqdest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

// worker is a BullMQ worker as a user writes one, noting each job it
// runs; with FAIL_ONCE=1 it throws on a job's first attempt.
const worker = `const { Worker } = require("bullmq");
const IORedis = require("ioredis");
const fs = require("fs");
const out = fs.openSync(process.env.OUT, "a");
const connection = new IORedis(process.env.REDIS_URL, { maxRetriesPerRequest: null });
const w = new Worker(process.env.QUEUE, async (job) => {
  fs.writeSync(out, JSON.stringify({ id: job.id, name: job.name, data: job.data,
    attemptsMade: job.attemptsMade, opts: job.opts }) + "\n");
  if (process.env.FAIL_ONCE === "1" && job.attemptsMade === 0) throw new Error("fails once");
  return "done";
}, { connection, concurrency: 8 });
w.on("error", (err) => console.error("worker error:", err));
`

var (
	npmOnce sync.Once
	npmDir  string
	npmErr  error
)

// modules installs bullmq (the major version the destination writes for)
// and ioredis from npm into a temporary folder, once per test run.
func modules(t *testing.T) string {
	t.Helper()
	workertest.NeedNode(t)
	npmOnce.Do(func() {
		npmDir, npmErr = os.MkdirTemp("", "hooklatch-bullmq-")
		if npmErr != nil {
			return
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--silent", "bullmq@"+bullmqdest.BullMQVersion, "ioredis")
		cmd.Dir = npmDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm install bullmq@%s ioredis: %v\n%s", bullmqdest.BullMQVersion, err, out)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	return npmDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if npmDir != "" {
		_ = os.RemoveAll(npmDir)
	}
	os.Exit(code)
}

type env struct {
	url, queue string
	rdb        *redis.Client
	dest       *bullmqdest.Destination
}

func setup(t testing.TB, cfg bullmqdest.Config) *env {
	t.Helper()
	e := &env{url: workertest.ServiceURL(t, "HOOKLATCH_TEST_REDIS", "redis://127.0.0.1:6379/0"), queue: workertest.Name("hooklatch-bullmq-test")}
	opts, err := redis.ParseURL(e.url)
	if err != nil {
		t.Fatal(err)
	}
	e.rdb = redis.NewClient(opts)
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := e.rdb.Keys(ctx, "bull:"+e.queue+":*").Result()
		if len(keys) > 0 {
			e.rdb.Del(ctx, keys...)
		}
		_ = e.rdb.Close()
	})
	cfg.RedisURL, cfg.Queue = e.url, e.queue
	if e.dest, err = bullmqdest.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.dest.Close() })
	return e
}

// start runs the worker on e's queue.
func (e *env) start(t *testing.T, extra ...string) *workertest.Worker {
	t.Helper()
	dir := modules(t)
	work := t.TempDir()
	script := filepath.Join(work, "worker.js")
	if err := os.WriteFile(script, []byte(worker), 0o644); err != nil {
		t.Fatal(err)
	}
	envv := append([]string{"NODE_PATH=" + filepath.Join(dir, "node_modules"), "REDIS_URL=" + e.url, "QUEUE=" + e.queue}, extra...)
	return workertest.Start(t, work, envv, "node", script)
}

// waitCompleted waits until BullMQ has n jobs of the queue completed.
func (e *env) waitCompleted(ctx context.Context, t *testing.T, n int64) {
	t.Helper()
	for {
		got, err := e.rdb.ZCard(ctx, "bull:"+e.queue+":completed").Result()
		if err != nil {
			t.Fatal(err)
		}
		if got >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("BullMQ completed %d of %d jobs: %v", got, n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func deliverAll(ctx context.Context, t *testing.T, dest destination.Destination, ds []*destination.Delivery) []destination.Outcome {
	t.Helper()
	outs := make([]destination.Outcome, len(ds))
	var wg sync.WaitGroup
	for i, dl := range ds {
		wg.Go(func() {
			outs[i] = destination.Classify(dest.Deliver(ctx, dl))
			if outs[i].Class != destination.Succeeded {
				t.Errorf("delivery %d: %s: %v", dl.ID, outs[i].Class, outs[i].Err)
			}
		})
	}
	wg.Wait()
	return outs
}

func deliveries(n int) []*destination.Delivery {
	ds := make([]*destination.Delivery, n)
	for i := range ds {
		ds[i] = destinationtest.NewDelivery(i + 1)
	}
	return ds
}

// TestBullMQWorkerRunsEachEvent adds events, each twice, before a real
// BullMQ Worker starts and checks that the queue holds one job per event,
// that the worker ran each once with the envelope, the metadata and the
// body byte for byte, and that adding them again after they completed adds
// nothing.
func TestBullMQWorkerRunsEachEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a BullMQ worker; not in -short")
	}
	e := setup(t, bullmqdest.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	n := workertest.Events(t, 200)
	ds := deliveries(n)

	began := time.Now()
	deliverAll(ctx, t, e.dest, ds)
	enqueued := time.Since(began)
	outs := deliverAll(ctx, t, e.dest, ds) // a retry of each: BullMQ keeps one job
	for i, o := range outs {
		if !strings.Contains(o.Result.Response, "already") {
			t.Errorf("delivery %d again: answer %q, want it to say the job was already there", ds[i].ID, o.Result.Response)
		}
	}
	if got, _ := e.rdb.LLen(ctx, "bull:"+e.queue+":wait").Result(); got != int64(n) {
		t.Fatalf("the wait list holds %d jobs for %d events added twice", got, n)
	}

	w := e.start(t)
	w.Received(ctx, t, 1) // the worker is up: from here on it only works
	began = time.Now()
	e.waitCompleted(ctx, t, int64(n))
	consumed := time.Since(began)
	t.Logf("%d jobs: enqueued %.0f jobs/s by Deliver; the BullMQ worker (concurrency 8) completed %.0f jobs/s",
		n, float64(n)/enqueued.Seconds(), float64(n-1)/consumed.Seconds())

	outs = deliverAll(ctx, t, e.dest, ds[:3]) // a late retry, after the jobs ran
	for _, o := range outs {
		if !strings.Contains(o.Result.Response, "already") {
			t.Errorf("a retry after completion: answer %q, want it to say the job was already there", o.Result.Response)
		}
	}
	if got, _ := e.rdb.LLen(ctx, "bull:"+e.queue+":wait").Result(); got != 0 {
		t.Errorf("retries after completion left %d jobs waiting", got)
	}
	got := w.Received(ctx, t, n)
	if len(got) != n {
		t.Errorf("the worker ran %d jobs for %d events", len(got), n)
	}
	byID := map[string]map[string]any{}
	for _, g := range got {
		byID[g["id"].(string)] = g
	}
	for _, dl := range ds {
		checkJob(t, byID[dl.Event.ID], dl)
	}
}

// TestBullMQRetriesAHooklatchJob checks that BullMQ's own retry, with the
// attempts and backoff hooklatch set, works on the jobs hooklatch adds: a
// worker that throws on the first attempt runs each job a second time,
// and every job completes.
func TestBullMQRetriesAHooklatchJob(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a BullMQ worker; not in -short")
	}
	e := setup(t, bullmqdest.Config{Attempts: 3, Backoff: bullmqdest.Backoff{Type: "fixed", Delay: 10 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	const n = 10
	ds := deliveries(n)
	w := e.start(t, "FAIL_ONCE=1")
	deliverAll(ctx, t, e.dest, ds)
	e.waitCompleted(ctx, t, n)
	got := w.Received(ctx, t, 2*n)
	runs := map[string][]float64{}
	for _, g := range got {
		runs[g["id"].(string)] = append(runs[g["id"].(string)], g["attemptsMade"].(float64))
	}
	for _, dl := range ds {
		if fmt.Sprint(runs[dl.Event.ID]) != "[0 1]" {
			t.Errorf("job %s ran with attemptsMade %v, want [0 1]", dl.Event.ID, runs[dl.Event.ID])
		}
	}
	if failed, _ := e.rdb.ZCard(ctx, "bull:"+e.queue+":failed").Result(); failed != 0 {
		t.Errorf("%d jobs failed for good", failed)
	}
}

func checkJob(t *testing.T, g map[string]any, dl *destination.Delivery) {
	t.Helper()
	if g == nil {
		t.Errorf("no job ran for event %s", dl.Event.ID)
		return
	}
	if g["name"] != dl.Event.Type {
		t.Errorf("job %s: name %v, want %s", dl.Event.ID, g["name"], dl.Event.Type)
	}
	data, _ := g["data"].(map[string]any)
	meta, _ := data["hooklatch"].(map[string]any)
	workertest.CheckPayload(t, workertest.Payload{Event: data["event"], Meta: meta, RawBody: data["raw_body"]}, dl)
}

// TestServeToBullMQWorker is the whole path: webhooks posted to
// `hooklatch serve --forward-to bullmq://…` are run by a real BullMQ
// Worker, each once, with its body byte for byte.
func TestServeToBullMQWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs serve and a BullMQ worker; not in -short")
	}
	e := setup(t, bullmqdest.Config{})
	w := e.start(t)
	bodies := workertest.Bodies(20)
	workertest.Serve(t, "bullmq://"+strings.TrimPrefix(e.url, "redis://")+"?queue="+e.queue, bodies)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	e.waitCompleted(ctx, t, int64(len(bodies)))
	got := w.Received(ctx, t, len(bodies))
	runs := map[string]int{}
	for _, g := range got {
		data, _ := g["data"].(map[string]any)
		raw, _ := data["raw_body"].(string)
		runs[raw]++
	}
	for i, body := range bodies {
		if n := runs[string(body)]; n != 1 {
			t.Errorf("webhook %d ran %d times, want once with its body byte for byte", i, n)
		}
	}
	if len(got) != len(bodies) {
		t.Errorf("the worker ran %d jobs, want %d", len(got), len(bodies))
	}
}
