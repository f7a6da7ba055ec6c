package dispatch_test

import (
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/dispatch"
)

// The default policy's 15 attempts are spread over 2.1 to 4.1 hours, as
// docs/destinations.md and serve --help say: each wait is drawn from [d/2, d], d
// doubling from 2s up to an hour.
func TestDefaultScheduleSpan(t *testing.T) {
	t.Parallel()
	span := func(r float64) time.Duration {
		b := dispatch.Backoff{RandFunc: func() float64 { return r }}
		var total time.Duration
		for attempt := 1; attempt < 15; attempt++ { // the waits between 15 attempts
			total += b.NextRetry(attempt, nil)
		}
		return total
	}
	shortest, longest := span(0), span(0.999999)
	if got := shortest.Round(6 * time.Minute); got != 2*time.Hour+6*time.Minute {
		t.Errorf("shortest span %s (≈%s), want 2.1h", shortest, got)
	}
	if got := longest.Round(6 * time.Minute); got != 4*time.Hour+6*time.Minute {
		t.Errorf("longest span %s (≈%s), want 4.1h", longest, got)
	}
	if w := (dispatch.Backoff{RandFunc: func() float64 { return 0 }}).NextRetry(1, nil); w != time.Second {
		t.Errorf("first wait at its shortest = %s, want 1s (half of 2s)", w)
	}
}
