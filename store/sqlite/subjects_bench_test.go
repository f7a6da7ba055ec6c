package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// BenchmarkAppendSubjects measures what keeping each subject's latest
// state costs the append: 64 writers append subjectEvents events to a
// fresh store, each without a subject (no state to keep: the baseline),
// each of a subject of its own (a new state per event, as `hooklatch
// bench` sends), or four statuses per message in a random order (one new
// state, three compared with it). The variants alternate over three
// rounds; it reports each one's appends a second and log frames per
// event, and their ratios to the baseline.
func BenchmarkAppendSubjects(b *testing.B) {
	const subjectEvents = 20000
	variants := []struct {
		name  string
		shape func(i int, ev *store.NewEvent)
	}{
		{"no subject", func(i int, ev *store.NewEvent) { ev.SubjectKind, ev.Subject = "", "" }},
		{"a subject each", func(i int, ev *store.NewEvent) {}},
		{"4 statuses per message", func(i int, ev *store.NewEvent) {
			ev.Subject = fmt.Sprintf("msg-%d", i/4)
			ev.Status = []string{"QUEUED", "SENT", "DELIVERED", "READ"}[rand.IntN(4)]
		}},
	}
	for b.Loop() {
		rates, frames := make([]float64, len(variants)), make([]float64, len(variants))
		for round := 1; round <= 3; round++ {
			for v, variant := range variants {
				rate, perEvent := appendSubjects(b, subjectEvents, variant.shape)
				rates[v] += rate / 3
				frames[v] += perEvent / 3
				fmt.Printf("round %d %-24s %6.0f appends/s, %.2f log frames per event\n", round, variant.name, rate, perEvent)
			}
		}
		for v, variant := range variants {
			fmt.Printf("%-24s %6.0f appends/s (%.2fx), %.2f log frames per event (%.2fx)\n", variant.name, rates[v], rates[v]/rates[0],
				frames[v], frames[v]/frames[0])
		}
		b.ReportMetric(rates[1]/rates[0], "subject-rate-ratio")
		b.ReportMetric(frames[1]/frames[0], "subject-frames-ratio")
	}
}

// appendSubjects appends n events shaped by shape to a fresh store from
// 64 writers, and returns the appends a second and the log frames per
// event.
func appendSubjects(b *testing.B, n int, shape func(i int, ev *store.NewEvent)) (rate, frames float64) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "h.db"), sqlite.Options{Exclusive: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := make([]*store.NewEvent, n)
	for i := range evs {
		evs[i] = storetest.NewEvent("sent", fmt.Sprintf("k-%d", i))
		shape(i, evs[i])
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start, before := time.Now(), sqlite.FramesWritten(s)
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				if _, err := s.Append(ctx, evs[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), float64(sqlite.FramesWritten(s)-before) / float64(n)
}
