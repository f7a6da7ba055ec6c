// Package clock lets the dispatcher wait on time that tests control: the
// real clock in production, a manual one in tests, which moves only when
// the test advances it, so a one-hour backoff takes no time to test.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and wakes waiters.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock.
type Real struct{}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Manual is a clock that moves only when Advance or Set is called.
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual {
	return &Manual{now: start}
}

// Now implements Clock.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// After implements Clock.
func (m *Manual) After(d time.Duration) <-chan time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- m.now
		return ch
	}
	m.waiters = append(m.waiters, waiter{at: m.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock forward by d and wakes the waiters due by then.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.set(m.now.Add(d))
	m.mu.Unlock()
}

// Set moves the clock to t (never backward) and wakes the waiters due.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	if t.After(m.now) {
		m.set(t)
	}
	m.mu.Unlock()
}

func (m *Manual) set(t time.Time) {
	m.now = t
	kept := m.waiters[:0]
	for _, w := range m.waiters {
		if !w.at.After(t) {
			w.ch <- t
			continue
		}
		kept = append(kept, w)
	}
	m.waiters = kept
}

// NextWaiter returns the earliest time a waiter is waiting for; ok is false
// when none waits.
func (m *Manual) NextWaiter() (at time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.waiters {
		if !ok || w.at.Before(at) {
			at, ok = w.at, true
		}
	}
	return at, ok
}
