package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ReadGoal is the p95 every read should stay within at every size.
const ReadGoal = 50 * time.Millisecond

// AtSize is what `bench growth` measured at one size of the store.
type AtSize struct {
	Events  int64 // stored when serve started
	Grew    GrowResult
	Startup time.Duration
	Ops     []OpResult
	IdleCPU float64 // share of a core
	// ServerIdleCPU is, on PostgreSQL, the share of a core the database
	// server spends for serve over the same time.
	ServerIdleCPU float64
	Ingest        float64 // req/s on the grown store
	IngestP99     time.Duration
	// FreshIngest is req/s on a fresh store, in the same run, alternating.
	FreshIngest float64
}

// PrintGrowth prints rows as a markdown table: an operation a line, a size
// a column. A read's cell is "p50 / p95" in milliseconds, the p95 in bold
// past ReadGoal.
func PrintGrowth(w io.Writer, backend string, rows []AtSize) {
	if len(rows) == 0 {
		return
	}
	head := []string{backend + ", events"}
	for _, r := range rows {
		head = append(head, Count(r.Events))
	}
	line := func(cells ...string) { fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | ")) }
	line(head...)
	line(strings.Split(strings.Repeat("---,", len(head)), ",")[:len(head)]...)
	cells := func(name string, f func(AtSize) string) {
		c := []string{name}
		for _, r := range rows {
			c = append(c, f(r))
		}
		line(c...)
	}
	cells("grown at (events/s)", func(r AtSize) string {
		if r.Grew.Stored == 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f", r.Grew.Rate())
	})
	cells("start-up to ready", func(r AtSize) string { return millis(r.Startup) + " ms" })
	var errs []string
	for i, op := range rows[0].Ops {
		cells(op.Name+" (ms)", func(r AtSize) string {
			if i >= len(r.Ops) {
				return "—"
			}
			o := r.Ops[i]
			p95 := millis(o.P95)
			if o.P95 > ReadGoal {
				p95 = "**" + p95 + "**"
			}
			if o.Err != "" {
				errs = append(errs, fmt.Sprintf("%s at %s: %s", o.Name, Count(r.Events), o.Err))
				p95 += " ✗"
			}
			return millis(o.P50) + " / " + p95
		})
	}
	cells("serve idle CPU (% of a core)", func(r AtSize) string { return fmt.Sprintf("%.2f %%", 100*r.IdleCPU) })
	if backend == "PostgreSQL" {
		cells("its PostgreSQL sessions' idle CPU", func(r AtSize) string { return fmt.Sprintf("%.2f %%", 100*r.ServerIdleCPU) })
	}
	cells("ingest req/s (× fresh store)", func(r AtSize) string {
		return fmt.Sprintf("%.0f (%.2f×)", r.Ingest, r.Ingest/max(r.FreshIngest, 1e-9))
	})
	cells("ingest p99 (ms)", func(r AtSize) string { return millis(r.IngestP99) })
	for _, e := range errs {
		fmt.Fprintf(w, "\n✗ %s", e)
	}
	fmt.Fprintln(w)
}

// Count is n for a column head: 20.0k, 1.00M.
func Count(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func millis(d time.Duration) string {
	ms := float64(d.Microseconds()) / 1000
	if ms < 10 {
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}
