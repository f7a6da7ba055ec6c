package redisdest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
)

// server returns the test Redis's URL and a client of it.
func server(t testing.TB) (string, *redis.Client) {
	t.Helper()
	raw := destinationtest.ServiceURL(t, "HOOKLATCH_TEST_REDIS")
	opts, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("HOOKLATCH_TEST_REDIS: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return raw, c
}

// newStream names a stream no other test uses, deleted after the test.
func newStream(t testing.TB, c *redis.Client) string {
	t.Helper()
	name := destinationtest.UniqueName("hooklatch-test-")
	t.Cleanup(func() { c.Del(context.Background(), name) })
	return name
}

func newDest(t testing.TB, cfg redisdest.Config) *redisdest.Destination {
	t.Helper()
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = 10 * time.Minute // the test's seen keys go away
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return destinationtest.Open(t, redisdest.New, cfg)
}

// observe consumes the stream with XREAD, as a worker would, until the test
// ends.
func observe(t *testing.T, c *redis.Client, stream string) *destinationtest.Recorder {
	rec := new(destinationtest.Recorder)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		last := "0"
		for ctx.Err() == nil {
			res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, last}, Block: 200 * time.Millisecond}).Result()
			if err != nil {
				continue // redis.Nil: nothing new yet
			}
			for _, msg := range res[0].Messages {
				last = msg.ID
				rec.Record(received(msg))
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return rec
}

func received(msg redis.XMessage) destinationtest.Received {
	rc := destinationtest.Received{Metadata: map[string]string{}}
	for k, v := range msg.Values {
		s, _ := v.(string)
		switch k {
		case redisdest.FieldBody:
			rc.Body = []byte(s)
		default:
			rc.Metadata[k] = s
		}
	}
	rc.EventID = rc.Metadata[destination.MetaEventID]
	return rc
}

// deliver delivers dl and fails the test unless it succeeds.
func deliver(t *testing.T, d destination.Destination, dl *destination.Delivery) {
	t.Helper()
	if o := destination.Classify(d.Deliver(t.Context(), dl)); o.Err != nil {
		t.Fatalf("Deliver: %s: %v", o.Class, o.Err)
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	destinationtest.RunBroker(t, destinationtest.BrokerHarness{
		Addr:    c.Options().Addr,
		Dedupes: true,
		New: func(t *testing.T, addr string) (destination.Destination, destinationtest.Observer) {
			stream := newStream(t, c)
			return newDest(t, redisdest.Config{URL: destinationtest.Via(t, raw, addr), Stream: stream}), observe(t, c, stream)
		},
		NewRefusing: func(t *testing.T) destination.Destination {
			// The key holds a string, not a stream: WRONGTYPE on every XADD.
			stream := newStream(t, c)
			if err := c.Set(t.Context(), stream, "not a stream", 0).Err(); err != nil {
				t.Fatal(err)
			}
			return newDest(t, redisdest.Config{URL: raw, Stream: stream})
		},
	})
}

func TestRetryAppendsNoSecondEntry(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	stream := newStream(t, c)
	d := newDest(t, redisdest.Config{URL: raw, Stream: stream})
	dl := destinationtest.NewDelivery(1)
	first := destination.Classify(d.Deliver(t.Context(), dl))
	dl.Attempt = 2
	again := destination.Classify(d.Deliver(t.Context(), dl))
	if first.Err != nil || again.Err != nil {
		t.Fatalf("Deliver: %v, then %v", first.Err, again.Err)
	}
	if n := c.XLen(t.Context(), stream).Val(); n != 1 {
		t.Fatalf("stream holds %d entries after a retry, want 1", n)
	}
	entry := strings.TrimPrefix(first.Result.Response, "appended entry ")
	if !strings.Contains(again.Result.Response, "already in the stream as entry "+entry) {
		t.Errorf("the retry answered %q, want it to name entry %s", again.Result.Response, entry)
	}
	// The same event to another stream is another entry.
	other := newStream(t, c)
	deliver(t, newDest(t, redisdest.Config{URL: raw, Stream: other}), dl)
	if n := c.XLen(t.Context(), other).Val(); n != 1 {
		t.Errorf("another stream holds %d entries of the event, want 1", n)
	}
}

func TestSeenKeyLastsTheDedupeWindow(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	stream := newStream(t, c)
	d := newDest(t, redisdest.Config{URL: raw, Stream: stream, DedupeWindow: time.Hour})
	dl := destinationtest.NewDelivery(1)
	deliver(t, d, dl)
	key := redisdest.SeenKeyPrefix + "{" + stream + "}:" + dl.Event.ID
	t.Cleanup(func() { c.Del(context.Background(), key) })
	ttl := c.PTTL(t.Context(), key).Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("seen key %s expires in %s, want within the hour's window", key, ttl)
	}
	// Once it has gone, the event is appended again: the window bounds
	// what Redis must remember.
	c.Del(t.Context(), key)
	deliver(t, d, dl)
	if n := c.XLen(t.Context(), stream).Val(); n != 2 {
		t.Errorf("stream holds %d entries, want 2 once the window passed", n)
	}
}

func TestMaxLenTrimsTheStream(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	stream := newStream(t, c)
	d := newDest(t, redisdest.Config{URL: raw, Stream: stream, MaxLen: 10})
	const n = 400
	for i := range n {
		deliver(t, d, destinationtest.NewDelivery(i))
	}
	// MAXLEN ~ trims whole nodes of the stream, so about 10 remain.
	if got := c.XLen(t.Context(), stream).Val(); got < 10 || got >= n {
		t.Fatalf("stream holds %d entries after %d appends with maxlen 10", got, n)
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	destinationtest.CheckURLs(t, redisdest.ParseURL, redisdest.New, []destinationtest.URLCase[redisdest.Config]{
		{URL: "redis://127.0.0.1:6379/0?stream=events", Want: redisdest.Config{URL: "redis://127.0.0.1:6379/0", Stream: "events"}},
		{URL: "redis://:pw@h:6379/2?stream=s&maxlen=1000&dedupe_window=1h&dial_timeout=3s",
			Want: redisdest.Config{URL: "redis://:pw@h:6379/2?dial_timeout=3s", Stream: "s", MaxLen: 1000, DedupeWindow: time.Hour}},
		{URL: "redis://h:6379/0", WantErr: "Stream: required"},
		{URL: "redis://h:6379/0?stream=s&maxlen=-1", WantErr: "MaxLen"},
		{URL: "redis://h:6379/0?stream=s&dedupe_window=soon", WantErr: "DedupeWindow"},
		{URL: "redis://h:6379/0?stream=s&stream_name=x", WantErr: "unknown query parameter stream_name"},
		{URL: "http://h:6379/0?stream=s", WantErr: "invalid URL scheme"},
	})
}
