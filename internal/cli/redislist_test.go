package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	redigo "github.com/gomodule/redigo/redis"

	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// WebhookEvent is the struct of the Go worker in Sent's guide, which pops
// the webhook-processing list with BRPOP and decodes each item into it.
type WebhookEvent struct {
	Field     string                 `json:"field"`
	Payload   map[string]interface{} `json:"payload"`
	Timestamp string                 `json:"timestamp"`
}

// guideWorker runs the guide's worker loop on its own redigo pool,
// straight to Redis, until ctx ends: BRPOP, json.Unmarshal, process. The
// one change is BRPOP's timeout, a second rather than forever, so that the
// loop sees the test end.
func guideWorker(ctx context.Context, t *testing.T, redisURL, key string, process func(raw []byte, ev WebhookEvent)) {
	pool := &redigo.Pool{
		MaxIdle: 10,
		Dial:    func() (redigo.Conn, error) { return redigo.DialURL(redisURL) },
	}
	defer pool.Close()
	conn := pool.Get()
	defer conn.Close()
	for ctx.Err() == nil {
		reply, err := redigo.ByteSlices(conn.Do("BRPOP", key, 1))
		if err == redigo.ErrNil {
			continue
		}
		if err != nil {
			t.Errorf("Queue error: %v", err)
			return
		}
		var event WebhookEvent
		if err := json.Unmarshal(reply[1], &event); err != nil {
			t.Errorf("Unmarshal error: %v", err)
			continue
		}
		process(reply[1], event)
	}
}

// Through the whole of serve, to the worker of Sent's guide unchanged:
// every event stored reaches it once, byte for byte, across a Redis
// outage in the middle of the stream.
func TestServeFeedsTheGuidesRedisListWorker(t *testing.T) {
	t.Parallel()
	raw, c, key := redisStream(t)
	proxy := destinationtest.NewProxy(t, c.Options().Addr)
	t.Cleanup(func() {
		keys, _ := c.Keys(context.Background(), "hooklatch:pushed:{"+key+"}:*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
	})

	var mu sync.Mutex
	popped := map[string][][]byte{} // message_id → raw items
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		guideWorker(ctx, t, raw, key, func(item []byte, ev WebhookEvent) {
			id, _ := ev.Payload["message_id"].(string)
			if ev.Field == "" || id == "" {
				t.Errorf("the worker decoded %+v from %s", ev, item)
			}
			mu.Lock()
			popped[id] = append(popped[id], item)
			mu.Unlock()
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	count := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, items := range popped {
			n += len(items)
		}
		return n
	}

	path := filepath.Join(t.TempDir(), "h.db")
	to := "redis+list" + raw[len("redis"):]
	to = destinationtest.Via(t, to, proxy.Addr()) + "?key=" + key
	url, stop := startCLIServe(t, []string{"serve", "--secret", v1Secret, "--store", path, "--admin-addr", "off",
		"--log-level", "error", "--forward-timeout", "1s", "--forward-to", to}, "message.queued")
	waitUntil(t, "the first event reaches the worker", func() bool { return count() == 1 })

	send := func(n string) {
		t.Helper()
		if r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "send", "message.sent", "message.delivered",
			"--count", n, "--concurrency", "4", "--to", url); r.code != 0 {
			t.Fatalf("send: exit %d: %s%s", r.code, r.stdout, r.stderr)
		}
	}
	send("10")
	proxy.Cut() // Redis is gone for serve; Sent still gets its 2xx
	send("10")
	time.Sleep(1500 * time.Millisecond) // attempts fail and wait for their retry
	proxy.Restore()
	const want = 1 + 2*10 + 2*10
	waitUntil(t, "every event reaches the worker", func() bool { return count() >= want })
	stop()

	st, err := sqlite.Open(t.Context(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.ListEvents(t.Context(), store.EventFilter{Limit: 1000})
	if err != nil || len(evs) != want {
		t.Fatalf("store holds %d events (%v), want %d", len(evs), err, want)
	}
	if n := count(); n != want {
		t.Errorf("the worker popped %d items for %d events", n, want)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, e := range evs {
		full, err := st.GetEvent(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		items := popped[full.Subject]
		if len(items) != 1 || !bytes.Equal(items[0], full.Body) {
			t.Errorf("event %s (message %s) reached the worker %d times; want once, byte for byte:\n got %q\nwant %q",
				e.ID, full.Subject, len(items), items, full.Body)
		}
	}
}
