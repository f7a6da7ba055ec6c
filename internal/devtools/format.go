package devtools

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The tools' output shares these, so that one duration reads the same in
// send's timeline, check's grades and listen's lines; the other commands
// count with Plural and Count too.

// latency says how long an answer took, briefly: 0.4ms, 3ms, 1.2s.
func latency(d time.Duration) string {
	switch {
	case d < 950*time.Microsecond:
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// shortDuration prints a schedule's durations the way people write them:
// 1s, 1m, 1m4s, 2h.
func shortDuration(d time.Duration) string {
	if d >= time.Minute {
		d = d.Round(time.Second)
	}
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.String()
}

// Plural picks one or many by n.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Count is "1 warning" or "2 warnings".
func Count(n int, one, many string) string {
	return strconv.Itoa(n) + " " + Plural(n, one, many)
}

// ClipString folds s onto one line of at most n bytes.
func ClipString(s string, n int) string { return clipString(s, n) }

// clipString folds s onto one line of at most n bytes.
func clipString(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n - 1
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
