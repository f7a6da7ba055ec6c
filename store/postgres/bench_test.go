package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkAppend measures durable appends from many goroutines, where
// group commit shares each statement and commit among them, for several
// numbers of writers; BenchmarkAppendSerial is the baseline of one append
// at a time.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprint("writers=", writers), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{Writers: writers})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := storetest.NewEvent("sent", fmt.Sprint("b-", n.Add(1)))
					ev.Destinations = []string{"log"}
					if _, err := s.Append(context.Background(), ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkAppendSerial(b *testing.B) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Append(context.Background(), storetest.NewEvent("sent", fmt.Sprint("s-", i))); err != nil {
			b.Fatal(err)
		}
	}
}
