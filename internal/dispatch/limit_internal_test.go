package dispatch

import (
	"errors"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Rate{"": {}, "50/s": {50, time.Second}, "600/m": {600, time.Minute}, "1/h": {1, time.Hour}} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"50", "0/s", "-1/s", "x/s", "50/d", "50/"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

// The limiter's own decisions, on a time that does not move unless told:
// at 20/s, 40 attempts asked for at once get slots 50ms apart, so no
// second of them holds more than 20.
func TestLimiterSpacesAttempts(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Rate{Events: 20, Per: time.Second})
	var starts []time.Time
	for range 40 {
		w, ok := l.reserve(t0, time.Hour)
		if !ok {
			t.Fatal("a slot within the hour was refused")
		}
		starts = append(starts, t0.Add(w))
	}
	for i, s := range starts {
		if want := t0.Add(time.Duration(i) * 50 * time.Millisecond); !s.Equal(want) {
			t.Fatalf("attempt %d starts at +%s, want +%s", i, s.Sub(t0), want.Sub(t0))
		}
	}
	inFirstSecond := 0
	for _, s := range starts {
		if s.Before(t0.Add(time.Second)) {
			inFirstSecond++
		}
	}
	if inFirstSecond != 20 {
		t.Errorf("%d attempts in the first second, want 20", inFirstSecond)
	}
	// A slot further than maxWait is not taken, and takes nothing.
	if _, ok := l.reserve(t0, time.Second); ok {
		t.Error("a slot 2s away was taken with maxWait 1s")
	}
	if w, _ := l.reserve(t0, time.Hour); w != 2*time.Second {
		t.Errorf("next slot in %s, want 2s", w)
	}
}

// A Retry-After holds every later slot past it, then halves the rate for
// SlowFor; a destination without a rate is held all the same.
func TestLimiterRetryAfterHoldsThenSlows(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := newLimiter(Rate{Events: 10, Per: time.Second})
	l.answered(t0, destination.RetryAfter(2*time.Second, errors.New("429")))
	l.answered(t0, errors.New("500")) // no delay asked: no hold
	var waits []time.Duration
	for range 3 {
		w, _ := l.reserve(t0, time.Hour)
		waits = append(waits, w)
	}
	want := []time.Duration{2 * time.Second, 2200 * time.Millisecond, 2400 * time.Millisecond}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits = %v, want %v (held 2s, then 5/s)", waits, want)
		}
	}
	later := t0.Add(2*time.Second + SlowFor + time.Second)
	w1, _ := l.reserve(later, time.Hour)
	w2, _ := l.reserve(later, time.Hour)
	if w1 != 0 || w2 != 100*time.Millisecond {
		t.Errorf("after SlowFor: waits %s, %s; want 0, 100ms (10/s again)", w1, w2)
	}

	free := newLimiter(Rate{})
	free.answered(t0, destination.RetryAfter(2*time.Second, errors.New("503")))
	if w, _ := free.reserve(t0.Add(time.Second), time.Hour); w != time.Second {
		t.Errorf("unlimited destination held %s after 1s of a 2s Retry-After, want 1s", w)
	}
	if w, _ := free.reserve(t0.Add(3*time.Second), time.Hour); w != 0 {
		t.Errorf("unlimited destination held %s after the Retry-After", w)
	}
}
