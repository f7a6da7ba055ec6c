package admin

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// charts are the overview's two per-minute charts over the last hour.
type charts struct {
	Counts, Latency chart
}

// chart is one per-minute chart, drawn on the server as inline SVG with
// its title, axes (ticks and units) and legend: numbers and our own words
// only reach the page, and html/template escapes them anyway.
type chart struct {
	ID, Title string
	YLabel    string // the unit of the vertical axis
	XLabel    string
	Width     int
	Height    int
	// The plot area's edges, in the viewBox's units.
	Left, Right, Top, Bottom float64
	TickEnd                  float64 // where the time ticks end, below the plot
	YTicks, XTicks           []tick
	Series                   []series
}

type tick struct {
	Pos   float64 // y for the vertical axis, x for the horizontal
	Label string
}

type series struct {
	Name    string
	Class   string
	Lines   []string // SVG polyline points, one a run of minutes with a value
	Last    string   // the latest minute's value, for the legend
	LegendX float64  // where its legend entry starts
}

const (
	chartMinutes = 60
	chartW       = 960
	chartH       = 280
	plotLeft     = 64
	plotRight    = chartW - 28 // room for the last time tick's label
	plotTop      = 64
	plotBottom   = chartH - 48
	legendLeft   = plotLeft + 96 // after "this minute:"
	legendWidth  = 180           // per series
)

// newCharts lays the last hour's minutes out, a point a minute: zero where
// nothing was counted, and no point at all for a latency where no request
// was answered (a gap, not a latency of 0 ms).
func newCharts(minutes []Minute, now time.Time) charts {
	end := now.Truncate(time.Minute)
	start := end.Add(-(chartMinutes - 1) * time.Minute)
	byStart := map[time.Time]Minute{}
	for _, m := range minutes {
		byStart[m.Start] = m
	}
	slots := make([]Minute, chartMinutes)
	var countMax int64
	var latencyMax float64
	for i := range slots {
		slots[i] = byStart[start.Add(time.Duration(i)*time.Minute)]
		m := slots[i]
		countMax = max(countMax, m.Received, m.Delivered, m.Failed)
		latencyMax = max(latencyMax, m.AckP99, m.AckP50)
	}
	whole := func(v float64) string { return strconv.FormatInt(int64(v), 10) }
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " ms" }
	answered := func(m Minute) bool { return m.AckP99 > 0 } // the percentiles are zero without answers
	count := func(f func(Minute) int64) func(Minute) float64 {
		return func(m Minute) float64 { return float64(f(m)) }
	}
	return charts{
		Counts: newChart("chart-counts", "Webhooks received and delivery attempts, per minute", "webhooks or attempts a minute",
			start, slots, float64(countMax), true, []line{
				{"received", "received", count(func(m Minute) int64 { return m.Received }), nil, whole},
				{"delivered", "delivered", count(func(m Minute) int64 { return m.Delivered }), nil, whole},
				{"failed", "failed", count(func(m Minute) int64 { return m.Failed }), nil, whole},
			}),
		Latency: newChart("chart-latency", "Acknowledgement latency, per minute (answers to Sent)", "milliseconds (ms)",
			start, slots, latencyMax, false, []line{
				{"ack p50", "p50", func(m Minute) float64 { return m.AckP50 }, answered, ms},
				{"ack p99", "p99", func(m Minute) float64 { return m.AckP99 }, answered, ms},
			}),
	}
}

// line is one series to draw: its name, its CSS class, its value in a
// minute, whether a minute has one (nil: every minute has), and how the
// legend writes it.
type line struct {
	name, class string
	value       func(Minute) float64
	has         func(Minute) bool
	label       func(float64) string
}

func newChart(id, title, yLabel string, start time.Time, slots []Minute, top float64, integer bool, lines []line) chart {
	c := chart{ID: id, Title: title, YLabel: yLabel, XLabel: "time (minutes, local clock)", Width: chartW, Height: chartH,
		Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom, TickEnd: plotBottom + 5}
	top, step := niceScale(top, integer)
	y := func(v float64) float64 { return plotBottom - v/top*(plotBottom-plotTop) }
	x := func(i int) float64 { return plotLeft + float64(i)*(plotRight-plotLeft)/float64(len(slots)-1) }
	for v := 0.0; v <= top+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{y(v), decimal(v)})
	}
	for i := range slots {
		if t := start.Add(time.Duration(i) * time.Minute).Local(); t.Minute()%10 == 0 {
			c.XTicks = append(c.XTicks, tick{x(i), t.Format("15:04")})
		}
	}
	legend := float64(legendLeft)
	for k, l := range lines {
		has := func(m Minute) bool { return l.has == nil || l.has(m) }
		s := series{Name: l.name, Class: l.class, Last: "none", LegendX: legend + float64(k*legendWidth)}
		point := func(x, y float64) string {
			return strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64)
		}
		var run []string
		lone := 0 // the slot of a run's only minute
		end := func() {
			if len(run) == 1 { // a lone minute: a short dash, where a line would need two
				at, v := x(lone), y(l.value(slots[lone]))
				run = []string{point(at-3, v), point(at+3, v)}
			}
			if len(run) > 0 {
				s.Lines = append(s.Lines, strings.Join(run, " "))
			}
			run = run[:0]
		}
		for i, m := range slots {
			if !has(m) {
				end()
				continue
			}
			if len(run) == 0 {
				lone = i
			}
			run = append(run, point(x(i), y(l.value(m))))
		}
		end()
		if last := slots[len(slots)-1]; has(last) {
			s.Last = l.label(l.value(last))
		}
		c.Series = append(c.Series, s)
	}
	return c
}

// niceScale returns the top of a vertical axis that shows max, and the
// step between its ticks: 1, 2, 2.5 or 5 times a power of ten, about four
// ticks; whole numbers only when integer.
func niceScale(hi float64, integer bool) (top, step float64) {
	if hi <= 0 {
		hi = 1
	}
	raw := hi / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if integer && step != math.Trunc(step) {
			continue
		}
		if step >= raw {
			break
		}
	}
	if integer {
		step = max(step, 1)
	}
	top = math.Ceil(hi/step-1e-9) * step
	return math.Round(top*1e9) / 1e9, step // 0.3, not 0.30000000000000004
}

// decimal writes v with at most three decimals and no trailing zeros.
func decimal(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
