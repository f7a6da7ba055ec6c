package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// appendAll appends one event per key to every route, waking the
// dispatcher as serve does: only when the append left a delivery to
// claim. It returns what each append said.
func (h *harness) appendAll(t *testing.T, keys ...string) []store.AppendResult {
	t.Helper()
	var out []store.AppendResult
	for _, k := range keys {
		ev := storetest.NewEvent("sent", k)
		ev.ReceivedAt = h.clock.Now()
		ev.Destinations = h.disp.Destinations(&ev.EventData)
		res, err := h.store.Append(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Handed {
			h.disp.Notify()
		}
		out = append(out, res)
	}
	return out
}

// While the dispatcher has free places and nothing due waits, an append
// claims its deliveries in its own transaction and hands them over: no
// claim is made for them. Once the places are full, appends leave their
// deliveries pending, and the dispatcher claims them as places free. Each
// is delivered once.
func TestAppendsHandDeliveriesToAnIdleDispatcher(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		got     = map[string]int{}
		release = make(chan struct{})
		running atomic.Int32
	)
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		running.Add(1)
		<-release
		mu.Lock()
		got[d.Event.ID]++
		mu.Unlock()
		return nil
	})
	metrics := dispatch.NewMetrics(nil)
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest}}, func(c *dispatch.Config) {
		c.MaxInFlight, c.Metrics = 4, metrics
	})
	time.Sleep(100 * time.Millisecond) // the dispatcher's first claim finds nothing due

	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprint("h", i))
	}
	res := h.appendAll(t, keys...)
	for i, r := range res {
		if want := i < 4; r.Handed != want {
			t.Errorf("append %d: Handed %v, want %v", i, r.Handed, want)
		}
	}
	h.drive(t, "four attempts under way", func() bool { return running.Load() == 4 })
	close(release)
	h.drive(t, "all delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 10
	})
	for _, r := range res {
		h.drive(t, "recorded", h.statusIs(t, r.EventID, store.DeliverySucceeded))
	}
	mu.Lock()
	for id, n := range got {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	mu.Unlock()
	if a, c := testutil.ToFloat64(metrics.Claimed.WithLabelValues("append")), testutil.ToFloat64(metrics.Claimed.WithLabelValues("claim")); a != 4 || c != 6 {
		t.Errorf("claimed %v by append and %v by claim, want 4 and 6", a, c)
	}
}

// A destination that orders by subject, has a rate, or a concurrency set
// (which holds across processes) has its deliveries claimed by the
// dispatcher, never by appends: those claims keep what such a destination
// promises.
func TestOnlyPlainDestinationsAreHandedOver(t *testing.T) {
	t.Parallel()
	var delivered sync.Map
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		delivered.Store(d.Event.ID+" "+fmt.Sprint(d.ID), true)
		return nil
	})
	metrics := dispatch.NewMetrics(nil)
	h := setup(t, []dispatch.Route{
		{Name: "plain", Destination: dest},
		{Name: "ordered", Destination: dest, Order: store.OrderSubject},
		{Name: "rated", Destination: dest, Policy: dispatch.Policy{Rate: dispatch.Rate{Events: 1000, Per: time.Second}}},
		{Name: "bounded", Destination: dest, Policy: dispatch.Policy{Concurrency: 8}},
	}, func(c *dispatch.Config) { c.Metrics = metrics })
	time.Sleep(100 * time.Millisecond)
	res := h.appendAll(t, "p0")
	if res[0].Handed {
		t.Error("an append with deliveries left pending says Handed")
	}
	h.drive(t, "all delivered", func() bool {
		n := 0
		delivered.Range(func(any, any) bool { n++; return true })
		return n == 4
	})
	if a, c := testutil.ToFloat64(metrics.Claimed.WithLabelValues("append")), testutil.ToFloat64(metrics.Claimed.WithLabelValues("claim")); a != 1 || c != 3 {
		t.Errorf("claimed %v by append and %v by claim, want 1 and 3", a, c)
	}
}

// Stopping while appends hand deliveries over leaves none of them in
// flight: every claim an append committed is run before Run returns, and
// appends after that leave theirs pending.
func TestStopRunsWhatAppendsHandedOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var delivered atomic.Int64
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		time.Sleep(time.Millisecond)
		delivered.Add(1)
		return nil
	})
	d, err := dispatch.New(dispatch.Config{Store: st, Routes: []dispatch.Route{{Name: "app", Destination: dest}},
		Owner: "test", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()

	var (
		wg       sync.WaitGroup
		handed   atomic.Int64
		appended = make(chan struct{})
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-appended:
					return
				default:
				}
				ev := storetest.NewEvent("sent", fmt.Sprint("s", w, "-", i))
				ev.Destinations = d.Destinations(&ev.EventData)
				res, err := st.Append(ctx, ev)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Handed {
					handed.Add(1)
				} else {
					d.Notify()
				}
			}
		})
	}
	// Stop while appends hand deliveries over, and go on appending a
	// little after.
	for deadline := time.Now().Add(20 * time.Second); handed.Load() < 20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends handed their delivery over in 20 s: the test tests nothing", handed.Load())
		}
	}
	cancel()
	<-done
	time.Sleep(20 * time.Millisecond)
	close(appended)
	wg.Wait()
	left, err := st.ListDeliveries(ctx, store.DeliveryFilter{Status: store.DeliveryInFlight})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%d deliveries left in flight after Run returned (%d handed over, %d delivered)", len(left), handed.Load(), delivered.Load())
	}
}
