package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkClaim claims one or two deliveries at a time from a backlog,
// the limit changing from claim to claim as the dispatcher's free places
// do: of every destination (destinations=all) and of the ones named
// (destinations=named: while a destination is paused or has a concurrency
// limit set).
func BenchmarkClaim(b *testing.B) {
	for _, named := range []bool{false, true} {
		name := "destinations=all"
		if named {
			name = "destinations=named"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := openBench(b)
			ctx := context.Background()
			for i := range 2 * b.N {
				ev := storetest.NewEvent("sent", fmt.Sprint("k", i))
				ev.Destinations = []string{"app", "log"}
				if _, err := s.Append(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			p := store.ClaimParams{Owner: "o", Lease: time.Minute, Limit: 1}
			if named {
				p.Destinations = []string{"app"}
			}
			b.ResetTimer()
			for i := range b.N {
				p.Now = time.Now()
				p.Limit = 1 + i%2
				cl, err := s.Claim(ctx, p)
				if err != nil || len(cl) != p.Limit {
					b.Fatal(len(cl), err)
				}
			}
		})
	}
}
