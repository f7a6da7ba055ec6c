package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkClaim claims one delivery at a time from a backlog, as the
// dispatcher does: of every destination (destinations=all, no pause
// anywhere) and of the ones named (destinations=named, the claim while a
// destination is paused, and the one serve makes).
func BenchmarkClaim(b *testing.B) {
	for _, named := range []bool{false, true} {
		name := "destinations=all"
		if named {
			name = "destinations=named"
		}
		b.Run(name, func(b *testing.B) {
			s, _ := openBench(b)
			ctx := context.Background()
			for i := range b.N {
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
			for range b.N {
				p.Now = time.Now()
				cl, err := s.Claim(ctx, p)
				if err != nil || len(cl) != 1 {
					b.Fatal(len(cl), err)
				}
			}
		})
	}
}
