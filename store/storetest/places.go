package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Places is a dispatcher's side of store.AppendClaims in a backend's
// tests: Free places for the destinations it takes, the destinations
// asked (Asked), the places given back (Untaken), and the claims handed
// over (Handed). Lock Mu to read or set the counts while appends run.
type Places struct {
	Mu      sync.Mutex
	Free    int
	Asked   []string
	Untaken int
	takes   map[string]bool
	claims  chan []store.Claim
}

// NewPlaces has free places for deliveries to the destinations takes.
func NewPlaces(free int, takes ...string) *Places {
	p := &Places{Free: free, takes: map[string]bool{}, claims: make(chan []store.Claim, 100)}
	for _, d := range takes {
		p.takes[d] = true
	}
	return p
}

// Hook is what a dispatcher named owner, whose clock stands at now, gives
// ClaimOnAppend: leases of a minute.
func (p *Places) Hook(owner string, now time.Time) *store.AppendClaims {
	return &store.AppendClaims{
		Owner: owner, Lease: time.Minute, Now: func() time.Time { return now },
		Take: func(dest string) bool {
			p.Mu.Lock()
			defer p.Mu.Unlock()
			p.Asked = append(p.Asked, dest)
			if !p.takes[dest] || p.Free == 0 {
				return false
			}
			p.Free--
			return true
		},
		Untake: func(string) {
			p.Mu.Lock()
			defer p.Mu.Unlock()
			p.Free++
			p.Untaken++
		},
		Claimed: func(cs []store.Claim) { p.claims <- cs },
	}
}

// Handed waits for n claims, and makes sure no more come soon after.
func (p *Places) Handed(t *testing.T, n int) []store.Claim {
	t.Helper()
	var out []store.Claim
	for len(out) < n {
		select {
		case cs := <-p.claims:
			out = append(out, cs...)
		case <-time.After(5 * time.Second):
			t.Fatalf("handed %d claims, want %d", len(out), n)
		}
	}
	select {
	case cs := <-p.claims:
		t.Fatalf("handed %d more claims than %d", len(cs), n)
	case <-time.After(50 * time.Millisecond):
	}
	return out
}
