package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// BenchmarkPagesAtSize lists the first page of the events page
// (internal/inspect) by each filter the store tests event by event, on
// the store BenchmarkLookupsAtSize grows: a page should cost the same
// however many events lie before its matches.
//
//	go test -run '^$' -bench PagesAtSize -benchtime 5x -timeout 30m ./store/sqlite
func BenchmarkPagesAtSize(b *testing.B) {
	s, n := openLookupStore(b)
	in := inspect.New(s, nil)
	mid, last := benchReceivedAt(int64(n/2)), benchReceivedAt(int64(n))
	for _, c := range []struct {
		name string
		q    inspect.Query
	}{
		{"newest", inspect.Query{}},
		{"since last hour", inspect.Query{Filter: store.EventFilter{Since: last.Add(-time.Hour)}}},
		{"since until, middle", inspect.Query{Filter: store.EventFilter{Since: mid, Until: mid.Add(time.Hour)}}},
		{"until a day ago", inspect.Query{Filter: store.EventFilter{Until: last.Add(-24 * time.Hour)}}},
		{"none", inspect.Query{Filter: store.EventFilter{Delivery: store.DeliveryNone}}},
		{"attention only", inspect.Query{Attention: inspect.AttentionOnly}},
		{"attention none", inspect.Query{Attention: inspect.AttentionNone}},
	} {
		c.q.Filter.Limit = 50
		b.Run("page/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := in.List(context.Background(), c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// openLookupStore opens the store the benchmarks at size share, grown first
// unless it already is, and how many events it holds; the store closes
// when b ends.
func openLookupStore(b *testing.B) (*sqlite.Store, int) {
	path, n := benchStorePath(b)
	if err := growStore(path, n); err != nil {
		b.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, n
}

// benchStorePath is where the benchmarks at size keep their grown store,
// HOOKLATCH_BENCH_STORE (by default in the system's temporary folder), and
// how many events it holds, HOOKLATCH_BENCH_EVENTS (1,000,000 by default).
func benchStorePath(b *testing.B) (string, int) {
	n := 1_000_000
	if v := os.Getenv("HOOKLATCH_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("HOOKLATCH_BENCH_EVENTS=%q: want a number of events", v)
		}
	}
	path := os.Getenv("HOOKLATCH_BENCH_STORE")
	if path == "" {
		path = filepath.Join(os.TempDir(), fmt.Sprintf("hooklatch-lookups-%d.db", n))
	}
	return path, n
}
