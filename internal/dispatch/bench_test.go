package dispatch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// benchDispatch stores b.N events for dest, then measures how long the
// dispatcher takes to deliver them all.
func benchDispatch(b *testing.B, dest destination.Destination, concurrency int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < b.N; i += 16 {
				ev := storetest.NewEvent("sent", fmt.Sprint("b", i))
				ev.Destinations = []string{"dest"}
				if _, err := st.Append(ctx, ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()

	var calls atomic.Int64
	counted := destination.Func(func(ctx context.Context, dl *destination.Delivery) error {
		err := dest.Deliver(ctx, dl)
		calls.Add(1)
		return err
	})
	runDispatch(b, st, []dispatch.Route{{Name: "dest", Destination: counted, Policy: dispatch.Policy{Concurrency: concurrency}}})
}

// runDispatch measures how long a dispatcher takes to deliver the b.N
// deliveries st holds to routes.
func runDispatch(b *testing.B, st store.Store, routes []dispatch.Route) {
	ctx := context.Background()
	var recorded atomic.Int64
	d, err := dispatch.New(dispatch.Config{
		Store:  st,
		Routes: routes,
		Logger: slog.New(slog.DiscardHandler),
		// Counted once recorded: the store has the outcome.
		OnAttempt: func(a dispatch.Attempted) {
			if a.RecordErr == nil && a.Completion.Status == store.DeliverySucceeded {
				recorded.Add(1)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu := cpuTime()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx); close(done) }()
	for recorded.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cpu = cpuTime() - cpu
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	// The process's CPU per delivery (dispatcher, store and app alike):
	// steadier than the rate on a machine shared with other work.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/delivery")
}

func BenchmarkDispatchNoop(b *testing.B) {
	benchDispatch(b, destination.Func(func(context.Context, *destination.Delivery) error { return nil }), 256)
}

func BenchmarkDispatchHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	dest, err := httpdest.New(httpdest.Config{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	benchDispatch(b, dest, 64)
}

// BenchmarkHTTPTargetAlone is the baseline for BenchmarkDispatchHTTP: the
// same server taking the same bodies from 64 concurrent plain clients.
func BenchmarkHTTPTargetAlone(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	body := storetest.NewEvent("sent", "x").Body
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
