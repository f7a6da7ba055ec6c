package amqpdest

import (
	"testing"
	"time"
)

// Dials back off from 100ms, doubling per failure in a row, up to 5s; the
// first dial, and the first after a success, waits for nothing.
func TestRedialBackoff(t *testing.T) {
	t.Parallel()
	d := &Destination{}
	for failures, want := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second} {
		d.failures = failures
		if got := d.backoff(); got != want {
			t.Errorf("after %d failed dials: wait %s, want %s", failures, got, want)
		}
	}
	d.failures = 1 << 20
	if got := d.backoff(); got != maxRedial {
		t.Errorf("after many failed dials: wait %s, want %s", got, maxRedial)
	}
}
