package admin

import (
	"strings"
	"testing"
	"time"
)

// An axis ends at a round number at or above the highest value, with
// about four ticks 1, 2, 2.5 or 5 times a power of ten apart; a count's
// ticks are whole numbers.
func TestNiceScaleRoundsTheAxis(t *testing.T) {
	t.Parallel()
	cases := []struct {
		hi        float64
		integer   bool
		top, step float64
	}{
		{0, true, 1, 1},
		{3, true, 3, 1},
		{7, true, 8, 2},
		{25, true, 30, 10},
		{26, true, 30, 10},
		{41, true, 60, 20},
		{1234, true, 1500, 500},
		{0, false, 1, 0.25},
		{0.3, false, 0.3, 0.1},
		{46.75, false, 60, 20},
		{87, false, 100, 25},
	}
	for _, c := range cases {
		if top, step := niceScale(c.hi, c.integer); top != c.top || step != c.step {
			t.Errorf("niceScale(%v, %v) = %v, %v; want %v, %v", c.hi, c.integer, top, step, c.top, c.step)
		}
	}
}

// A minute without answers has no latency: the latency lines break there
// (a lone answered minute is a short dash) and the legend says none, while the
// counts go on at zero.
func TestLatencyChartLeavesGapsWhereNothingWasAnswered(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC)
	end := now.Truncate(time.Minute)
	minute := func(ago int, p50, p99 float64) Minute {
		return Minute{Start: end.Add(-time.Duration(ago) * time.Minute), Received: 1, AckP50: p50, AckP99: p99}
	}
	c := newCharts([]Minute{minute(40, 2, 9), minute(39, 3, 12), minute(20, 1, 4), minute(1, 2, 5)}, now)
	for _, s := range c.Latency.Series {
		if len(s.Lines) != 3 {
			t.Errorf("%s: %d lines, want 3 (minutes 40-39, 20, 1 ago): %q", s.Name, len(s.Lines), s.Lines)
		} else if pts := strings.Fields(s.Lines[1]); len(pts) != 2 || pts[0] == pts[1] ||
			strings.SplitN(pts[0], ",", 2)[1] != strings.SplitN(pts[1], ",", 2)[1] {
			t.Errorf("%s: the lone minute is drawn as %q, want a short level dash", s.Name, s.Lines[1])
		}
		if s.Last != "none" {
			t.Errorf("%s: this minute reads %q with no answer in it, want none", s.Name, s.Last)
		}
	}
	for _, s := range c.Counts.Series {
		if len(s.Lines) != 1 || len(strings.Fields(s.Lines[0])) != chartMinutes {
			t.Errorf("%s: %d lines, want one of %d points, zero where nothing was counted", s.Name, len(s.Lines), chartMinutes)
		}
	}
}
