package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkDispatchPostgres stores b.N events on one PostgreSQL schema,
// then measures how long one, or three, instances (each its own store and
// dispatcher, as separate serve processes have) take to deliver them all
// to a no-op destination: with a concurrency of 256 set (shared by the
// instances, a bound each claim keeps in the store) and no rate limit;
// with a rate too high to slow it (100000/s) as well, which costs a
// booking of slots per claimed batch; and with neither set
// (concurrency=default: 16 in each instance, nothing shared).
func BenchmarkDispatchPostgres(b *testing.B) {
	for _, rate := range []dispatch.Rate{{}, {Events: 100000, Per: time.Second}} {
		for _, instances := range []int{1, 3} {
			name := fmt.Sprint("instances=", instances)
			if rate.Events > 0 {
				name = fmt.Sprint("rate=", rate, "/", name)
			}
			benchDispatchPostgres(b, name, instances, dispatch.Policy{Concurrency: 256, Rate: rate})
		}
	}
	for _, instances := range []int{1, 3} {
		benchDispatchPostgres(b, fmt.Sprint("concurrency=default/instances=", instances), instances, dispatch.Policy{})
	}
}

func benchDispatchPostgres(b *testing.B, name string, instances int, policy dispatch.Policy) {
	{
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			u := pgtest.URL(b)
			stores := make([]*postgres.Store, instances)
			for i := range stores {
				st, err := postgres.Open(ctx, u, postgres.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				stores[i] = st
			}
			var wg sync.WaitGroup
			for w := range 16 {
				wg.Go(func() {
					for i := w; i < b.N; i += 16 {
						ev := storetest.NewEvent("sent", fmt.Sprint("b", i))
						ev.Destinations = []string{"dest"}
						if _, err := stores[0].Append(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()

			var calls atomic.Int64
			noop := destination.Func(func(context.Context, *destination.Delivery) error { calls.Add(1); return nil })
			b.ResetTimer()
			runCtx, cancel := context.WithCancel(ctx)
			var running sync.WaitGroup
			for _, st := range stores {
				d, err := dispatch.New(dispatch.Config{
					Store:  st,
					Routes: []dispatch.Route{{Name: "dest", Destination: noop, Policy: policy}},
					Logger: slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				running.Go(func() { d.Run(runCtx) })
			}
			for {
				s, err := stores[0].Stats(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if s.Deliveries[store.DeliverySucceeded] == int64(b.N) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.StopTimer()
			cancel()
			running.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
			if calls.Load() < int64(b.N) {
				b.Errorf("%d attempts for %d deliveries", calls.Load(), b.N)
			}
		})
	}
}
