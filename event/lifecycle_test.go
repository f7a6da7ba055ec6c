package event

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestLifecycleRank(t *testing.T) {
	path := []string{"SCHEDULED", "QUEUED", "PROCESSED", "ROUTED", "SENT", "DELIVERED", "READ"}
	for i := 1; i < len(path); i++ {
		if LifecycleRank(SubjectMessage, path[i-1]) >= LifecycleRank(SubjectMessage, path[i]) {
			t.Errorf("%s does not rank below %s", path[i-1], path[i])
		}
	}
	for _, tt := range []struct {
		kind, status string
		want         int
	}{
		{SubjectMessage, "failed", RankEnd},
		{SubjectMessage, "FILTERED", RankEnd},
		{SubjectMessage, "BLOCKED", RankEnd},
		{SubjectMessage, "RECEIVED", RankEnd},
		{SubjectMessage, "READ", RankEnd},
		{SubjectMessage, "DELIVERED", RankEnd - 1},
		{SubjectMessage, "TELEPORTED", RankUnknown},
		{SubjectMessage, "", RankUnknown},
		{SubjectTemplate, "APPROVED", 1},
		{SubjectTemplate, "PENDING", 1},
		{SubjectContact, "ACTIVE", 1},
		{"", "SENT", RankUnknown},
	} {
		if got := LifecycleRank(tt.kind, tt.status); got != tt.want {
			t.Errorf("LifecycleRank(%q, %q) = %d, want %d", tt.kind, tt.status, got, tt.want)
		}
	}
}

// Whatever order a subject's events arrive in, folding them with After
// ends on the same one: the highest rank, then the latest occurrence, then
// the latest receipt.
func TestPositionAfterIsATotalOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ps := []Position{
		{Rank: 5, OccurredAt: t0, Received: 1},
		{Rank: 6, OccurredAt: t0.Add(-time.Second), Received: 2}, // rank beats time
		{Rank: RankEnd, OccurredAt: t0.Add(time.Minute), Received: 3},
		{Rank: RankEnd, OccurredAt: t0.Add(2 * time.Minute), Received: 4}, // the latest
		{Rank: RankEnd, OccurredAt: t0.Add(2 * time.Minute), Received: 0}, // same time, received earlier
		{Rank: RankEnd, Received: 9},                                      // no timestamp: earlier than any
		{Rank: 2, OccurredAt: t0.Add(time.Hour), Received: 7},
	}
	want := ps[3]
	for round := 0; round < 50; round++ {
		rand.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
		latest := ps[0]
		for _, p := range ps[1:] {
			if p.After(latest) {
				latest = p
			}
		}
		if latest != want {
			t.Fatalf("order %v ends on %v, want %v", ps, latest, want)
		}
	}
	for i, p := range ps {
		for j, q := range ps {
			if i != j && p.After(q) == q.After(p) {
				t.Errorf("After is not antisymmetric for %v and %v", p, q)
			}
		}
	}
}
