package postgres_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkAtSize measures every recurring read and the retention pass on
// a store of HOOKLATCH_BENCH_PG_SIZE events (default 1,000,000), grown
// once through Append in the schema HOOKLATCH_BENCH_PG_SCHEMA (default
// bench_size), which is kept so that later runs start at once. Drop the
// schema to grow it again. Each event has two deliveries: the oldest 2 %
// and one in 200 of the rest have a dead one, the newest 1,000 are
// pending, the others succeeded. Events span the last 20 days.
//
//	go test -run '^$' -bench AtSize -benchtime 20x -timeout 60m ./store/postgres
func BenchmarkAtSize(b *testing.B) {
	size := 1_000_000
	if v := os.Getenv("HOOKLATCH_BENCH_PG_SIZE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("HOOKLATCH_BENCH_PG_SIZE=%q: want a number of events", v)
		}
		size = n
	}
	schema := os.Getenv("HOOKLATCH_BENCH_PG_SCHEMA")
	if schema == "" {
		schema = "bench_size"
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, pgtest.WithSchema(b, pgtest.ServerURL(b), schema), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	span := 20 * 24 * time.Hour
	start := growTo(b, s, size, span)
	// The store's own upkeep, which it would have run within a minute.
	if err := s.Maintain(ctx); err != nil {
		b.Fatal(err)
	}

	var maxSeq int64
	if err := s.Pool().QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&maxSeq); err != nil {
		b.Fatal(err)
	}
	some, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: maxSeq / 2, Limit: 1})
	if err != nil || len(some) == 0 {
		b.Fatalf("a middle event: %v", err)
	}
	mid := some[0]
	events := func(f store.EventFilter) func() error {
		return func() error { _, err := s.ListEvents(ctx, f); return err }
	}
	deliveries := func(f store.DeliveryFilter) func() error {
		return func() error { _, err := s.ListDeliveries(ctx, f); return err }
	}
	newest := store.EventFilter{BeforeSeq: math.MaxInt64, Limit: 50}
	with := func(f func(*store.EventFilter)) store.EventFilter { g := newest; f(&g); return g }
	// The retention pass as the retainer makes it: batch after batch
	// until one comes back short.
	pass := func(before time.Time) func() error {
		return func() error {
			for {
				e, k, err := s.Prune(ctx, before, time.Time{}, start.Add(-span), 500)
				if err != nil || e < 500 && k < 500 {
					return err
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		op   func() error
	}{
		{"Stats", func() error { _, err := s.Stats(ctx); return err }},
		{"Events/newest", events(newest)},
		{"Events/tail", events(store.EventFilter{AfterSeq: maxSeq - 10, Limit: 500})},
		{"Events/type", events(with(func(f *store.EventFilter) { f.Type = "template.approved" }))},
		{"Events/typePrefix", events(with(func(f *store.EventFilter) { f.Type = "email.*" }))},
		{"Events/subject", events(with(func(f *store.EventFilter) { f.Subject = mid.Subject }))},
		{"Events/dead", events(with(func(f *store.EventFilter) { f.Delivery = store.DeliveryDead }))},
		{"Events/pending", events(with(func(f *store.EventFilter) { f.Delivery = store.DeliveryPending }))},
		{"Events/succeeded", events(with(func(f *store.EventFilter) { f.Delivery = store.DeliverySucceeded }))},
		{"Events/since", events(with(func(f *store.EventFilter) { f.Since = mid.ReceivedAt }))},
		{"Events/idSuffix", events(with(func(f *store.EventFilter) { f.IDSuffix = mid.ID[len(mid.ID)-8:] }))},
		{"Events/dedupeKey", events(with(func(f *store.EventFilter) { f.DedupeKeys = []string{mid.DedupeKey} }))},
		{"Deliveries/dead", deliveries(store.DeliveryFilter{Status: store.DeliveryDead, Limit: 50})},
		{"Deliveries/pending1000", deliveries(store.DeliveryFilter{Status: store.DeliveryPending, Limit: 1000})},
		{"Deliveries/ofEvent", deliveries(store.DeliveryFilter{EventID: mid.ID})},
		{"Deliveries/destination", deliveries(store.DeliveryFilter{Destination: "http", AfterID: maxSeq, Limit: 50})},
		{"Rejections", func() error { _, err := s.ListRejections(ctx, 50); return err }},
		{"RejectionCounts", func() error { _, err := s.RejectionCounts(ctx); return err }},
		{"NextDue", func() error { _, _, err := s.NextDue(ctx); return err }},
		{"OldestEvent", func() error { _, _, err := s.OldestEvent(ctx); return err }},
		// Every event is younger than the retention: a pass finds nothing.
		{"Retention/nothingToPrune", pass(start.Add(-10 * 24 * time.Hour))},
		// The oldest events are all kept by their dead deliveries.
		{"Retention/allKept", pass(start.Add(span / 100))},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// growTo appends events until the store holds size of them, and returns
// when the first was received.
func growTo(b *testing.B, s *postgres.Store, size int, span time.Duration) time.Time {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var have int64
	if err := s.Pool().QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have >= int64(size) {
		return start
	}
	began := time.Now()
	types := []string{"message.delivered", "message.sent", "message.read", "template.approved", "email.opened"}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		fail atomic.Value
	)
	next.Store(have)
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(size) {
					return
				}
				ev := storetest.NewEvent("sent", fmt.Sprint("grow-", i))
				ev.Type = types[i%int64(len(types))]
				ev.Subject = fmt.Sprint("msg-", i%100_000)
				ev.ReceivedAt = start.Add(span / time.Duration(size) * time.Duration(i))
				ev.Destinations = []string{"log", "http"}
				for {
					_, err := s.Append(ctx, ev)
					if err == store.ErrBusy {
						time.Sleep(time.Millisecond)
						continue
					}
					if err != nil {
						fail.Store(err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if err, _ := fail.Load().(error); err != nil {
		b.Fatal(err)
	}
	appended := time.Since(began)
	kept := size / 50
	for _, q := range []string{
		`UPDATE deliveries SET status = 'succeeded' WHERE event_seq <= (SELECT MAX(seq) - 1000 FROM events)`,
		fmt.Sprintf(`UPDATE deliveries SET status = 'dead' WHERE destination = 'http' AND (event_seq <= %d OR event_seq %% 200 = 0)
		   AND event_seq <= (SELECT MAX(seq) - 1000 FROM events)`, kept),
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		r := &store.Rejection{Source: "sent", ReceivedAt: start, Reason: fmt.Sprint("reason-", i%4), Body: []byte("{}")}
		if _, err := s.AddRejection(ctx, r, store.RejectionLimits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("grew the store to %d events in %s (appends %s)", size, time.Since(began).Round(time.Second), appended.Round(time.Second))
	return start
}
