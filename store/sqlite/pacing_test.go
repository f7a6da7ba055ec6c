package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// holdWriter keeps s's writer busy until release is called, which
// returns the held write's error.
func holdWriter(s *Store) (release func() error) {
	inside, free := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.exec(context.Background(), func(context.Context, *sql.Tx) error {
			close(inside)
			<-free
			return nil
		})
	}()
	<-inside
	return func() error {
		close(free)
		return <-held
	}
}

// queueSpare queues fn as a spare write, and returns where its answer
// comes once it is queued.
func queueSpare(s *Store, fn func(context.Context, *sql.Tx) error) <-chan error {
	r := &writeReq{fn: fn}
	answer := make(chan error, 1)
	go func() {
		answer <- s.wait(context.Background(), r, func() error { return s.enqueueSpare(r) })
	}()
	for len(s.spare) == 0 {
		time.Sleep(time.Millisecond)
	}
	return answer
}

// Retention writes in the writer's spare time: a spare write queued
// before appends runs after them, alone, once no other write waits.
func TestSpareWriteWaitsForOtherWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openPlans(t)
	s.maxSpareWait = time.Hour // not overdue within the test
	release := holdWriter(s)
	var seen int
	spare := queueSpare(s, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&seen)
	})
	const appends = 10
	var wg sync.WaitGroup
	for i := range appends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, storetest.NewEvent("sent", string(rune('a'+i)))); err != nil {
				t.Error(err)
			}
		}()
	}
	for len(s.queue) < appends {
		time.Sleep(time.Millisecond)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := <-spare; err != nil {
		t.Fatal(err)
	}
	if seen != appends {
		t.Errorf("the spare write saw %d events; want the %d appends queued after it, committed before it ran", seen, appends)
	}
}

// A spare write left waiting when the store closes is answered.
func TestSpareWriteAnsweredOnClose(t *testing.T) {
	t.Parallel()
	s := openPlans(t)
	s.maxSpareWait = time.Hour
	release := holdWriter(s)
	spare := queueSpare(s, func(context.Context, *sql.Tx) error { return nil })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := <-spare; err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("spare write on close: %v; want it run or store.ErrClosed", err)
	}
}

// Each retention transaction is sized by the last full one: one that took
// twice pruneSlice halves the next, one that took a tenth doubles it (no
// more), one that took far longer halves it (no less); one that appended
// four times the frames allowed quarters it; all within bounds. One that
// found fewer rows than it could take says nothing.
func TestPruneChunkFollowsTheLastTransaction(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		size, n int
		took    time.Duration
		frames  int64
		want    int
	}{
		{100, 100, 2 * pruneSlice, 10, 50},
		{100, 100, pruneSlice / 10, 10, 200},
		{100, 100, pruneSlice, 10, 100},
		{100, 100, 100 * pruneSlice, 10, 50},
		{100, 100, pruneSlice, 400, 25},
		{100, 3, 100 * pruneSlice, 400, 100},
		{minPruneChunk, minPruneChunk, 10 * pruneSlice, 1000, minPruneChunk},
		{maxPruneChunk, maxPruneChunk, 0, 0, maxPruneChunk},
	} {
		c := pruneChunk{size: tc.size}
		if c.adapt(tc.n, tc.took, tc.frames, 100); c.size != tc.want {
			t.Errorf("%d rows of %d in %s, %d frames of 100: next %d, want %d", tc.n, tc.size, tc.took, tc.frames, c.size, tc.want)
		}
	}
}

// Spare writes take at most a share of the writer's time: a tenth while
// the other writes kept it more than a quarter busy over the last window,
// half otherwise.
func TestSparePaceKeepsItsShare(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	var p sparePace
	p.roll(t0)
	p.worked(t0.Add(paceWindow), paceWindow*3/4) // a busy window
	if !p.busy {
		t.Fatal("a window three quarters worked is not busy")
	}
	at := t0.Add(paceWindow + time.Millisecond)
	p.spent(at, 10*time.Millisecond)
	if got, want := p.notBefore.Sub(at), 90*time.Millisecond; got != want {
		t.Errorf("busy: next spare write after %s, want %s (a tenth)", got, want)
	}
	p.worked(at.Add(paceWindow), paceWindow/5) // a quiet window
	if p.busy {
		t.Fatal("a window a fifth worked is busy")
	}
	at = at.Add(paceWindow + time.Millisecond)
	p.spent(at, 10*time.Millisecond)
	if got, want := p.notBefore.Sub(at), 10*time.Millisecond; got != want {
		t.Errorf("quiet: next spare write after %s, want %s (a half)", got, want)
	}
}
