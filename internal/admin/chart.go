package admin

import (
	"strconv"
	"strings"
	"time"
)

// chart is the overview's per-minute chart, drawn on the server as inline
// SVG: numbers only reach the page, so there is nothing to escape.
type chart struct {
	Width, Height int
	Counts        []series // received, delivered, failed
	Latency       []series // ack p50, p99
	CountMax      int64
	LatencyMax    float64
	From, To      string // the first and last minute's clock time
}

type series struct {
	Name   string
	Class  string
	Points string // SVG polyline points
	Last   string // the latest value, for the legend
}

const (
	chartMinutes = 60
	chartW       = 720
	chartH       = 160
)

// newChart lays the last hour's minutes out, a point a minute, zero where
// nothing was sampled.
func newChart(minutes []Minute, now time.Time) chart {
	end := now.Truncate(time.Minute)
	start := end.Add(-(chartMinutes - 1) * time.Minute)
	byStart := map[time.Time]Minute{}
	for _, m := range minutes {
		byStart[m.Start] = m
	}
	slots := make([]Minute, chartMinutes)
	c := chart{Width: chartW, Height: chartH, From: start.Local().Format("15:04"), To: end.Local().Format("15:04")}
	for i := range slots {
		slots[i] = byStart[start.Add(time.Duration(i)*time.Minute)]
		m := slots[i]
		c.CountMax = max(c.CountMax, m.Received, m.Delivered, m.Failed)
		c.LatencyMax = max(c.LatencyMax, m.AckP99, m.AckP50)
	}
	count := func(name, class string, f func(Minute) int64) series {
		return line(name, class, slots, func(m Minute) float64 { return float64(f(m)) }, float64(max(c.CountMax, 1)), func(v float64) string {
			return strconv.FormatInt(int64(v), 10)
		})
	}
	c.Counts = []series{
		count("received", "received", func(m Minute) int64 { return m.Received }),
		count("delivered", "delivered", func(m Minute) int64 { return m.Delivered }),
		count("failed", "failed", func(m Minute) int64 { return m.Failed }),
	}
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + " ms" }
	top := max(c.LatencyMax, 0.001)
	c.Latency = []series{
		line("ack p50", "p50", slots, func(m Minute) float64 { return m.AckP50 }, top, ms),
		line("ack p99", "p99", slots, func(m Minute) float64 { return m.AckP99 }, top, ms),
	}
	return c
}

func line(name, class string, slots []Minute, value func(Minute) float64, top float64, label func(float64) string) series {
	var b strings.Builder
	step := float64(chartW) / float64(len(slots)-1)
	for i, m := range slots {
		x := float64(i) * step
		y := float64(chartH) - value(m)/top*float64(chartH-10)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(x, 'f', 1, 64) + "," + strconv.FormatFloat(y, 'f', 1, 64))
	}
	return series{Name: name, Class: class, Points: b.String(), Last: label(value(slots[len(slots)-1]))}
}
