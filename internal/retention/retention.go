// Package retention prunes what a store no longer needs: events older
// than the retention period whose deliveries are final, with their
// deliveries and attempts, in small batches that never hold the writers
// for long. The dedupe keys of pruned events are kept for a second
// period, so a request is accepted exactly once for at least the whole
// retention period, and answered as a duplicate long after its event is
// gone.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/store"
)

// MinRetention is the shortest retention accepted: shorter would prune
// events Sent may still be retrying.
const MinRetention = 24 * time.Hour

// DefaultRetention is the retention when none is set.
const DefaultRetention = 30 * 24 * time.Hour

// Pruner is a store that can prune itself.
type Pruner interface {
	// Prune deletes up to limit events received before before whose
	// deliveries are all final (dead ones only when received before
	// deadBefore; never when it is zero), keeping their dedupe keys, and
	// up to limit kept keys of events received before keysBefore.
	Prune(ctx context.Context, before, deadBefore, keysBefore time.Time, limit int) (events, keys int64, err error)
	// OldestEvent returns when the oldest stored event was received.
	OldestEvent(ctx context.Context) (at time.Time, ok bool, err error)
}

// Config configures a Retainer.
type Config struct {
	// Store is pruned. Required.
	Store Pruner
	// Retention is how long events are kept. Defaults to DefaultRetention;
	// at least MinRetention.
	Retention time.Duration
	// RetentionDead, when set, is how long events with a dead delivery are
	// kept; at least MinRetention. Defaults to forever: a dead delivery
	// waits for a person to retry or discard it.
	RetentionDead time.Duration
	// Interval is how often a pass runs. Defaults to one minute.
	Interval time.Duration
	// Batch is how many rows one call of Prune prunes at most; a store
	// may write them in smaller transactions (SQLite sizes its own by
	// time, and writes them in its writer's spare time). Defaults to 500.
	Batch int
	// Pause is how long a pass waits between two batches, so that it
	// never holds the writers for long. Defaults to 20ms.
	Pause time.Duration
	// Clock defaults to the real clock.
	Clock clock.Clock
	// Metrics defaults to unregistered metrics.
	Metrics *Metrics
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Metrics are the retainer's collectors.
type Metrics struct {
	Pruned      *prometheus.CounterVec
	OldestEvent prometheus.Gauge
	Pass        prometheus.Gauge
}

// NewMetrics makes the collectors and registers them with reg, unless reg
// is nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Pruned: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooklatch_retention_pruned_total",
			Help: "Rows pruned by retention: events (with their deliveries and attempts) and the dedupe keys kept after them.",
		}, []string{"what"}),
		OldestEvent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hooklatch_oldest_event_age_seconds",
			Help: "Age of the oldest stored event, as of the last retention pass (or the last minute of a long one).",
		}),
		Pass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hooklatch_retention_pass_seconds",
			Help: "How long the retention pass under way has run, or the last one took. One that keeps growing means events arrive faster than retention prunes them.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Pruned, m.OldestEvent, m.Pass)
	}
	return m
}

// Retainer prunes one store.
type Retainer struct {
	cfg        Config
	backfilled bool // the store has no event left without its subject's state
}

// Check validates the retention settings, in the command line's words.
func Check(retention, retentionDead time.Duration) error {
	if retention != 0 && retention < MinRetention {
		return fmt.Errorf("--retention %s: want at least 24h, so that events Sent may still retry are kept", retention)
	}
	if retentionDead != 0 && retentionDead < MinRetention {
		return fmt.Errorf("--retention-dead %s: want at least 24h", retentionDead)
	}
	return nil
}

// New validates cfg and returns a Retainer; Run starts it.
func New(cfg Config) (*Retainer, error) {
	if cfg.Store == nil {
		return nil, errors.New("retention: Config.Store is required")
	}
	if err := Check(cfg.Retention, cfg.RetentionDead); err != nil {
		return nil, err
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Millisecond
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Retainer{cfg: cfg}, nil
}

// Run prunes every Interval until ctx is done.
func (r *Retainer) Run(ctx context.Context) {
	for {
		if _, _, err := r.Prune(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("retention: pruning failed; trying again at the next pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.cfg.Clock.After(r.cfg.Interval):
		}
	}
}

// Prune makes one pass: batch after batch until nothing is left to
// prune, and returns how many events and kept keys it pruned. Until the
// store has filled in the subjects' states of the events it stored before
// it kept them (store.SubjectBackfiller), the pass does that first.
func (r *Retainer) Prune(ctx context.Context) (events, keys int64, err error) {
	if err := r.backfill(ctx); err != nil {
		return 0, 0, err
	}
	now := r.cfg.Clock.Now()
	before, keysBefore := now.Add(-r.cfg.Retention), now.Add(-2*r.cfg.Retention)
	var deadBefore time.Time
	if r.cfg.RetentionDead > 0 {
		deadBefore = now.Add(-r.cfg.RetentionDead)
	}
	p := pass{start: now, reported: now, logged: now}
	for ctx.Err() == nil {
		e, k, err := r.cfg.Store.Prune(ctx, before, deadBefore, keysBefore, r.cfg.Batch)
		events, keys = events+e, keys+k
		r.cfg.Metrics.Pruned.WithLabelValues("events").Add(float64(e))
		r.cfg.Metrics.Pruned.WithLabelValues("dedupe_keys").Add(float64(k))
		if err != nil {
			return events, keys, err
		}
		if e < int64(r.cfg.Batch) && k < int64(r.cfg.Batch) {
			break
		}
		if t := r.cfg.Clock.Now(); t.Sub(p.reported) >= r.cfg.Interval {
			r.progress(ctx, &p, t, events, keys)
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Pause):
		}
	}
	end := r.cfg.Clock.Now()
	r.cfg.Metrics.Pass.Set(end.Sub(now).Seconds())
	r.oldest(ctx, end)
	if events > 0 || keys > 0 {
		r.cfg.Logger.Info("retention: pruned", "events", events, "dedupe_keys", keys, "took", end.Sub(now).Round(time.Millisecond))
	}
	return events, keys, ctx.Err()
}

// behindAfter is how long a pass runs before it warns that retention may
// be falling behind. A healthy store's pass takes seconds; the first one
// over a large backlog (retention just turned on, or shortened) may take
// hours at the few thousand events a second an idle writer prunes.
// Until then, and after, a long pass logs its progress every
// progressEvery.
const (
	behindAfter   = 15 * time.Minute
	progressEvery = 5 * time.Minute
)

// pass is what a long pass has reported so far.
type pass struct {
	start    time.Time // when it started
	reported time.Time // when it last set the gauges
	logged   time.Time // when it last logged
	warned   bool      // it has warned that it runs long
}

// progress reports a pass still running at now, about once an Interval,
// so that a pass that never ends is seen: the gauges each time, an info
// line every progressEvery, and once a warning.
func (r *Retainer) progress(ctx context.Context, p *pass, now time.Time, events, keys int64) {
	p.reported = now
	ran := now.Sub(p.start)
	r.cfg.Metrics.Pass.Set(ran.Seconds())
	r.oldest(ctx, now)
	rate := math.Round(10*float64(events)/max(ran.Seconds(), 1)) / 10
	args := []any{"events", events, "dedupe_keys", keys, "for", ran.Round(time.Second), "events_per_second", rate}
	switch {
	case !p.warned && ran >= behindAfter:
		p.logged, p.warned = now, true
		r.cfg.Logger.Warn("retention: a pass has run for "+ran.Round(time.Second).String()+" and events are still due: until it ends, "+
			"the store holds events older than its retention. If passes never end, events arrive faster than retention prunes them "+
			"(it writes in the writer's spare time), and the store grows until they slow down", args...)
	case now.Sub(p.logged) >= progressEvery:
		p.logged = now
		r.cfg.Logger.Info("retention: still pruning", args...)
	}
}

// oldest sets the oldest event's age gauge, as of now.
func (r *Retainer) oldest(ctx context.Context, now time.Time) {
	if at, ok, err := r.cfg.Store.OldestEvent(ctx); err == nil {
		age := 0.0
		if ok {
			age = now.Sub(at).Seconds()
		}
		r.cfg.Metrics.OldestEvent.Set(age)
	}
}

// backfill has the store fill in the subjects' states of its events
// stored before it kept them, batch after batch with the pass's pauses,
// once: a store that has none left says so at its first call.
func (r *Retainer) backfill(ctx context.Context) error {
	b, ok := r.cfg.Store.(store.SubjectBackfiller)
	if !ok || r.backfilled {
		return nil
	}
	var total int64
	for ctx.Err() == nil {
		n, done, err := b.BackfillSubjects(ctx, r.cfg.Batch)
		total += n
		if err != nil {
			return fmt.Errorf("retention: fill in subjects' states: %w", err)
		}
		if done {
			r.backfilled = true
			if total > 0 {
				r.cfg.Logger.Info("subjects: the states of the events stored before this version kept them are filled in", "events", total)
			}
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.cfg.Pause):
		}
	}
	return ctx.Err()
}
