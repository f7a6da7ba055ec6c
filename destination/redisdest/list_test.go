package redisdest_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
)

func newList(t testing.TB, cfg redisdest.ListConfig) *redisdest.List {
	t.Helper()
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = 10 * time.Minute
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	return destinationtest.Open(t, redisdest.NewList, cfg)
}

// pop takes items off the list with BRPOP, as the worker in Sent's guide
// does, until the test ends.
func pop(t *testing.T, c *redis.Client, key string) *destinationtest.Recorder {
	rec := new(destinationtest.Recorder)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			res, err := c.BRPop(ctx, 200*time.Millisecond, key).Result()
			if err != nil || len(res) != 2 {
				continue // redis.Nil: nothing yet
			}
			body := []byte(res[1])
			rec.Record(destinationtest.Received{EventID: destinationtest.EventIDOf(body), Body: body})
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return rec
}

func TestListConformance(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			key := newStream(t, c)
			switch b {
			case destinationtest.FailTemporary:
				p := destinationtest.NewProxy(t, c.Options().Addr)
				p.Cut()
				return newList(t, redisdest.ListConfig{URL: destinationtest.Via(t, raw, p.Addr()), Key: key}), new(destinationtest.Recorder)
			case destinationtest.Hang:
				p := destinationtest.NewProxy(t, c.Options().Addr)
				p.Blackhole()
				return newList(t, redisdest.ListConfig{URL: destinationtest.Via(t, raw, p.Addr()), Key: key}), new(destinationtest.Recorder)
			case destinationtest.FailPermanent:
				// The key holds a string, not a list: WRONGTYPE on every push.
				if err := c.Set(t.Context(), key, "not a list", 0).Err(); err != nil {
					t.Fatal(err)
				}
				return newList(t, redisdest.ListConfig{URL: raw, Key: key}), new(destinationtest.Recorder)
			}
			return newList(t, redisdest.ListConfig{URL: raw, Key: key}), pop(t, c, key)
		},
		Limits:      destinationtest.Limits{FailureNotObserved: true},
		HangTimeout: 500 * time.Millisecond,
	})
}

// A retry whose first push reached Redis pushes nothing more, and says
// so; the same event on another list is pushed there.
func TestListRetryPushesNoSecondItem(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	key := newStream(t, c)
	l := newList(t, redisdest.ListConfig{URL: raw, Key: key})
	dl := destinationtest.NewDelivery(1)
	first := destination.Classify(l.Deliver(t.Context(), dl))
	dl.Attempt = 2
	again := destination.Classify(l.Deliver(t.Context(), dl))
	if first.Err != nil || again.Err != nil {
		t.Fatalf("Deliver: %v, then %v", first.Err, again.Err)
	}
	if n := c.LLen(t.Context(), key).Val(); n != 1 {
		t.Fatalf("list holds %d items after a retry, want 1", n)
	}
	if first.Result.Response != "pushed; the list holds 1" || again.Result.Response != "already pushed by an earlier attempt" {
		t.Errorf("answers %q, then %q", first.Result.Response, again.Result.Response)
	}
	t.Cleanup(func() { c.Del(context.Background(), redisdest.PushedKeyPrefix+"{"+key+"}:"+dl.Event.ID) })
	other := newStream(t, c)
	deliver(t, newList(t, redisdest.ListConfig{URL: raw, Key: other}), dl)
	if n := c.LLen(t.Context(), other).Val(); n != 1 {
		t.Errorf("another list holds %d items of the event, want 1", n)
	}
}

// LPUSH (the default) puts the oldest item at the tail, where BRPOP takes
// from; RPUSH puts it at the head, for BLPOP.
func TestListPushEnds(t *testing.T) {
	t.Parallel()
	raw, c := server(t)
	for _, tt := range []struct {
		push  string
		first int64 // index of the first pushed item
	}{{"", -1}, {redisdest.PushLeft, -1}, {redisdest.PushRight, 0}} {
		key := newStream(t, c)
		l := newList(t, redisdest.ListConfig{URL: raw, Key: key, Push: tt.push})
		a, b := destinationtest.NewDelivery(1), destinationtest.NewDelivery(2)
		deliver(t, l, a)
		deliver(t, l, b)
		got, err := c.LIndex(t.Context(), key, tt.first).Bytes()
		if err != nil || !bytes.Equal(got, a.Event.Body) {
			t.Errorf("push %q: item %d is %q (%v), want the first event's body", tt.push, tt.first, got, err)
		}
	}
}

func TestParseListURL(t *testing.T) {
	t.Parallel()
	destinationtest.CheckURLs(t, redisdest.ParseListURL, redisdest.NewList, []destinationtest.URLCase[redisdest.ListConfig]{
		{URL: "redis+list://127.0.0.1:6379/0?key=webhook-processing",
			Want: redisdest.ListConfig{URL: "redis://127.0.0.1:6379/0", Key: "webhook-processing"}},
		{URL: "rediss+list://:pw@h:6380/2?key=q&push=RPUSH&dedupe_window=1h&dial_timeout=3s",
			Want: redisdest.ListConfig{URL: "rediss://:pw@h:6380/2?dial_timeout=3s", Key: "q", Push: "rpush", DedupeWindow: time.Hour}},
		{URL: "redis+list://h:6379/0", WantErr: "Key: required"},
		{URL: "redis+list://h:6379/0?key=q&push=middle", WantErr: "Push"},
		{URL: "redis+list://h:6379/0?key=q&dedupe_window=soon", WantErr: "DedupeWindow"},
		{URL: "redis+list://h:6379/0?key=q&stream=x", WantErr: "unknown query parameter stream"},
		{URL: "redis://h:6379/0?key=q", WantErr: "redis+list://host:6379/0?key=NAME"},
	})
}
