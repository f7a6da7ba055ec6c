package admin

import "testing"

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
