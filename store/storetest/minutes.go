package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// testMinutes checks the per-minute history: counts added to a minute
// add up (bucket by bucket for the latency, from any number of writers
// at once), old minutes go, and what was added is there after reopening.
func testMinutes(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, opener := open(t, factory)
	show := func(ms []store.MinuteStats) string {
		out := ""
		for _, m := range ms {
			out += fmt.Sprintf("%s r%d d%d j%d f%d ok%d x%d dead%d ack%v\n", m.Start.UTC().Format("15:04"),
				m.Received, m.Duplicates, m.Rejected, m.Refused, m.Delivered, m.Failed, m.Dead, m.AckBuckets)
		}
		return out
	}
	minute := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	if ms, err := s.Minutes(ctx, time.Time{}); err != nil || len(ms) != 0 {
		t.Fatalf("empty store: %v, %v", ms, err)
	}
	err := s.AddMinutes(ctx, []store.MinuteStats{
		{Start: minute(0), Received: 3, Duplicates: 1, Rejected: 2, Refused: 1, Delivered: 2, Failed: 1, Dead: 1, AckBuckets: []int64{1, 2}},
		{Start: minute(1).Add(20 * time.Second), Received: 5, AckBuckets: []int64{5}}, // within minute 1
	}, minute(-60))
	if err != nil {
		t.Fatal(err)
	}
	// Eight writers add to minute 1 at once, as instances sharing a store do.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.AddMinutes(ctx, []store.MinuteStats{{Start: minute(1), Received: 1, Delivered: 1, AckBuckets: []int64{0, 1, 1}}}, minute(-60)); err != nil {
				t.Errorf("AddMinutes at once: %v", err)
			}
		})
	}
	wg.Wait()
	want := "12:00 r3 d1 j2 f1 ok2 x1 dead1 ack[1 2]\n" +
		"12:01 r13 d0 j0 f0 ok8 x0 dead0 ack[5 8 8]\n"
	got, err := s.Minutes(ctx, minute(0))
	if err != nil {
		t.Fatal(err)
	}
	if show(got) != want {
		t.Fatalf("Minutes after adding:\n%swant\n%s", show(got), want)
	}
	if got, _ := s.Minutes(ctx, minute(1)); show(got) != want[len("12:00 r3 d1 j2 f1 ok2 x1 dead1 ack[1 2]\n"):] {
		t.Errorf("Minutes since 12:01:\n%s", show(got))
	}

	// A minute added later deletes those before keepFrom.
	if err := s.AddMinutes(ctx, []store.MinuteStats{{Start: minute(61), Failed: 4}}, minute(1)); err != nil {
		t.Fatal(err)
	}
	want = "12:01 r13 d0 j0 f0 ok8 x0 dead0 ack[5 8 8]\n" +
		"13:01 r0 d0 j0 f0 ok0 x4 dead0 ack[]\n"
	if got, _ := s.Minutes(ctx, time.Time{}); show(got) != want {
		t.Fatalf("Minutes after pruning:\n%swant\n%s", show(got), want)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = opener(t)
	defer s.Close()
	if got, _ := s.Minutes(ctx, time.Time{}); show(got) != want {
		t.Fatalf("Minutes after reopening:\n%swant\n%s", show(got), want)
	}
}
