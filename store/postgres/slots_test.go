package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// Instances booking a destination's slots at once get each slot once:
// 4 instances × 25 bookings of 5 slots at 10ms cover 1,000 ms without a
// gap or an overlap; a hold pushes the next booking past its end and
// doubles the spacing until it slows no more; none starts after Latest.
func TestBookSlotsSharesEverySlotOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	step := 10 * time.Millisecond
	var (
		mu    sync.Mutex
		slots []time.Time
		wg    sync.WaitGroup
	)
	for range 4 {
		s := open(t, u, postgres.Options{})
		wg.Go(func() {
			for range 25 {
				b, err := s.BookSlots(ctx, now, []store.SlotRequest{
					{Destination: "other", Want: 1, Step: step, Latest: now.Add(time.Hour)},
					{Destination: "app", Want: 5, Step: step, Latest: now.Add(time.Hour)},
				})
				if err != nil {
					t.Error(err)
					return
				}
				if b[1].Booked != 5 || b[1].Step != step {
					t.Errorf("booked %+v, want 5 slots %s apart", b[1], step)
				}
				mu.Lock()
				for k := range b[1].Booked {
					slots = append(slots, b[1].First.Add(time.Duration(k)*b[1].Step))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(slots, time.Time.Compare)
	for i, at := range slots {
		if want := now.Add(time.Duration(i) * step); !at.Equal(want) {
			t.Fatalf("slot %d at +%s, want +%s", i, at.Sub(now), want.Sub(now))
		}
	}

	s := open(t, u, postgres.Options{})
	until := now.Add(5 * time.Second)
	if err := s.HoldDestination(ctx, "app", until, until.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	holds, err := s.Holds(ctx, now)
	if err != nil || !holds["app"].Until.Equal(until) {
		t.Fatalf("holds %v, %v; want app held until +5s", holds, err)
	}
	b, err := s.BookSlots(ctx, now, []store.SlotRequest{{Destination: "app", Want: 3, Step: step, Latest: until.Add(25 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	// Slowed: 20ms apart from the hold's end, and only two before Latest.
	if got := b[0]; !got.First.Equal(until) || got.Step != 2*step || got.Booked != 2 || !got.Next.Equal(until.Add(4*step)) {
		t.Errorf("after a hold: %+v; want 2 slots from +5s, 20ms apart, next at +5.04s", got)
	}
}
