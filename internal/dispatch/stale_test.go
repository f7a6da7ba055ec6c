package dispatch_test

import (
	"context"
	"sync"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// staleClaims stands in for a store that keeps subjects' latest states:
// it marks each claim as the store would, from a table by event ID.
type staleClaims struct {
	store.Store
	marks map[string]store.Claim // dedupe key: the Stale and SubjectStatus to claim with
}

func (s *staleClaims) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	claims, err := s.Store.Claim(ctx, p)
	for i := range claims {
		m := s.marks[claims[i].Event.DedupeKey]
		claims[i].Stale, claims[i].SubjectStatus = m.Stale, m.SubjectStatus
	}
	return claims, err
}

// The destination is told what the claim said: stale or not, and the
// subject's latest status.
func TestDeliveryCarriesTheClaimsStaleness(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got = map[string]destination.Delivery{}
	)
	dest := destination.Func(func(_ context.Context, d *destination.Delivery) error {
		mu.Lock()
		got[d.Event.ID] = *d
		mu.Unlock()
		return nil
	})
	marks := map[string]store.Claim{
		"k-stale":  {Stale: true, SubjectStatus: "READ"},
		"k-latest": {SubjectStatus: "READ"},
		// k-none: an event with no subject, neither stale nor with a status.
	}
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest}}, func(c *dispatch.Config) {
		c.Store = &staleClaims{Store: c.Store, marks: marks}
	})
	want := map[string]store.Claim{}
	for _, key := range []string{"k-stale", "k-latest", "k-none"} {
		ev := h.append(t, key, "message.read")
		want[ev.ID] = marks[key]
	}
	h.drive(t, "three deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	mu.Lock()
	defer mu.Unlock()
	for id, w := range want {
		if d := got[id]; d.Stale != w.Stale || d.SubjectStatus != w.SubjectStatus {
			t.Errorf("event %s delivered with Stale %v, SubjectStatus %q; the claim said %v, %q", id, d.Stale, d.SubjectStatus, w.Stale, w.SubjectStatus)
		}
	}
}
