package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/bench"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// GrowthOptions are the settings of `hooklatch bench growth`.
type GrowthOptions struct {
	Store  string
	Sizes  []int64
	Reuse  bool
	Idle   time.Duration // how long idle CPU is measured
	Ingest time.Duration // each ingest run
	Rounds int           // ingest runs on the grown and on a fresh store, alternating
	// Exe is the hooklatch executable the measured serve and commands run
	// from. Defaults to this process's own.
	Exe string
	// CPUProfile, when set, names the file a CPU profile of the growth
	// (not of serve) is written to.
	CPUProfile string
}

func newBenchGrowthCommand(env Env) *cobra.Command {
	var (
		opts  GrowthOptions
		sizes string
	)
	cmd := &cobra.Command{
		Use:   "growth --store STORE --sizes 20k,1M,2M",
		Short: "Grow a store by millions of events and measure every read, start-up, idle CPU and ingest at each size",
		Long: `growth appends events to a store, as serve's receiver would store them
(every event type, message events about messages seen before, 2% duplicates,
0.6% for attention, each with a delivery: 3% dead, 1% waiting for a retry due
in 90 days, the rest delivered), from many goroutines at once, until it holds
each of --sizes in turn. At each size it starts 'hooklatch serve' on the store
and measures: start-up until /readyz answers; every dashboard page, every /v1/
list and lookup, /v1/stats and the events and rejections commands, with each
filter and each kind of event id (p50 / p95 over up to 20 runs); serve's CPU
while idle (on PostgreSQL, also the database server's for serve's sessions);
and ingest from 32 connections, alternating with a serve on a fresh store. It
prints a markdown table, sizes by operations.

The store must be new, unless --reuse: then the store as found is measured
first (its start-up includes any migrations this build makes) and grown
further from there, so a new build can be measured on a store an older one
grew.`,
		Example: `  hooklatch bench growth --store /var/tmp/grown.db --sizes 20k,1M,2M,5M
  hooklatch bench growth --store /var/tmp/grown.db --sizes 5M --reuse
  hooklatch bench growth --store 'postgres://postgres@127.0.0.1/growth?sslmode=disable' --sizes 20k,1M`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Store == "" {
				return usageError("--store: name the store to grow (a SQLite file path or a postgres:// URL)")
			}
			if opts.Sizes, err = parseSizes(sizes); err != nil {
				return usageError("--sizes: %v", err)
			}
			if opts.Idle <= 0 || opts.Ingest <= 0 || opts.Rounds <= 0 {
				return usageError("--idle, --ingest and --rounds must be positive")
			}
			return RunGrowth(cmd.Context(), env.Stdout, env.Stderr, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Store, "store", "", "the store to grow: a SQLite file path or a postgres:// URL")
	f.StringVar(&sizes, "sizes", "20k,1M", "event counts to grow the store to and measure at, ascending (k and M suffixes)")
	f.BoolVar(&opts.Reuse, "reuse", false, "take a store that exists: measure it as found, then grow it")
	f.DurationVar(&opts.Idle, "idle", 30*time.Second, "how long serve's idle CPU is measured")
	f.DurationVar(&opts.Ingest, "ingest", 4*time.Second, "how long each ingest run lasts")
	f.IntVar(&opts.Rounds, "rounds", 2, "ingest runs at size and on a fresh store, alternating")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the growing (go tool pprof) to this file")
	return cmd
}

// parseSizes reads "20k,1M,2.5M".
func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		mult := 1.0
		switch {
		case strings.HasSuffix(part, "k"), strings.HasSuffix(part, "K"):
			mult, part = 1e3, part[:len(part)-1]
		case strings.HasSuffix(part, "M"), strings.HasSuffix(part, "m"):
			mult, part = 1e6, part[:len(part)-1]
		}
		v, err := strconv.ParseFloat(part, 64)
		n := int64(v * mult)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q: want event counts such as 20k,1M,2M", s)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("%q: want ascending sizes", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// growth is one run of `bench growth`.
type growth struct {
	opts       GrowthOptions
	out, prog  io.Writer
	exe        string
	secretText string
	secret     signature.Secret
	sink       string
	rows       []bench.AtSize
}

// RunGrowth grows opts.Store to each size and measures it there.
func RunGrowth(ctx context.Context, out, progress io.Writer, opts GrowthOptions) error {
	var err error
	if opts.Exe == "" {
		if opts.Exe, err = os.Executable(); err != nil {
			return err
		}
	}
	g := &growth{opts: opts, out: out, prog: progress, exe: opts.Exe, secretText: newSecretText()}
	if g.secret, err = signature.ParseSecret(g.secretText); err != nil {
		return err
	}
	sink, stop, err := bench.Sink()
	if err != nil {
		return err
	}
	defer stop()
	g.sink = sink
	exists, err := storeExists(ctx, opts.Store)
	if err != nil {
		return err
	}
	if exists && !opts.Reuse {
		return usageError("%s holds a store already: pass --reuse to measure it and grow it further, or name a new one", postgres.Redact(opts.Store))
	}
	var count int64
	if exists {
		fmt.Fprintf(progress, "measuring %s as found\n", postgres.Redact(opts.Store))
		if count, err = g.measure(ctx, bench.GrowResult{}); err != nil {
			return err
		}
	}
	for _, size := range opts.Sizes {
		if count >= size {
			fmt.Fprintf(progress, "the store holds %d events already, not fewer than %d\n", count, size)
			continue
		}
		grew, err := g.grow(ctx, count, size)
		if err != nil {
			return err
		}
		if count, err = g.measure(ctx, grew); err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	bench.PrintGrowth(out, backendName(opts.Store), g.rows)
	return nil
}

// grow appends events until the store holds size.
func (g *growth) grow(ctx context.Context, count, size int64) (bench.GrowResult, error) {
	st, err := openForGrowth(ctx, g.opts.Store)
	if err != nil {
		return bench.GrowResult{}, err
	}
	defer st.Close()
	if count == 0 {
		if err := bench.AddRejections(ctx, st); err != nil {
			return bench.GrowResult{}, err
		}
	}
	fmt.Fprintf(g.prog, "growing %s from %d to %d events\n", postgres.Redact(g.opts.Store), count, size)
	stopProfile, err := record(g.opts.CPUProfile, "--cpuprofile", pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return bench.GrowResult{}, err
	}
	defer stopProfile()
	res, err := bench.Grow(ctx, st, size-count, g.secret, g.prog)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(g.prog, "grew by %d events (%d duplicates, %d deliveries settled) in %s: %.0f events/s\n",
		res.Stored, res.Duplicates, res.Settled, res.Elapsed.Round(time.Second), res.Rate())
	return res, st.Close()
}

// measure starts serve on the store and measures it; it returns how many
// events the store holds.
func (g *growth) measure(ctx context.Context, grew bench.GrowResult) (int64, error) {
	loc, err := g.opts.Store, error(nil)
	if postgres.IsURL(loc) {
		if loc, err = withApp(loc, growthApp()); err != nil {
			return 0, err
		}
	}
	srv, err := bench.StartServe(ctx, g.serveConfig(loc))
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	r := &bench.Reader{Exe: g.exe, Store: g.opts.Store, Admin: srv.Admin, Runs: 20, MinRuns: 5, Budget: 6 * time.Second}
	row := bench.AtSize{Startup: srv.Startup, Grew: grew}
	if row.Events, err = r.Events(ctx); err != nil {
		return 0, err
	}
	fmt.Fprintf(g.prog, "serve ready on %d events in %s; measuring reads\n", row.Events, srv.Startup.Round(time.Millisecond))
	sample, err := r.FindSample(ctx)
	if err != nil {
		return 0, err
	}
	for _, op := range bench.Ops(sample) {
		res := r.Run(ctx, op)
		fmt.Fprintf(g.prog, "  %-32s p50 %8.1fms  p95 %8.1fms  (%d runs) %s\n", res.Name, ms64(res.P50), ms64(res.P95), res.Runs, res.Err)
		row.Ops = append(row.Ops, res)
	}
	fmt.Fprintf(g.prog, "serve's CPU while idle, over %s\n", g.opts.Idle)
	time.Sleep(2 * time.Second) // let the reads' work end
	if row.IdleCPU, row.ServerIdleCPU, err = g.idle(ctx, srv); err != nil {
		return 0, err
	}
	if err := g.ingest(ctx, srv, &row); err != nil {
		return 0, err
	}
	g.rows = append(g.rows, row)
	bench.PrintGrowth(g.prog, backendName(g.opts.Store), g.rows)
	return row.Events, srv.Stop()
}

// idle measures the share of a core serve uses while nothing is sent,
// and on PostgreSQL the share the database server spends for it.
func (g *growth) idle(ctx context.Context, srv *bench.Serve) (serve, server float64, err error) {
	if !postgres.IsURL(g.opts.Store) {
		serve, err = srv.IdleCPU(ctx, g.opts.Idle)
		return serve, 0, err
	}
	done := make(chan error, 1)
	go func() {
		used, err := serverCPU(ctx, g.opts.Store, growthApp(), g.opts.Idle)
		server = used.Seconds() / g.opts.Idle.Seconds()
		done <- err
	}()
	serve, err = srv.IdleCPU(ctx, g.opts.Idle)
	return serve, server, errors.Join(err, <-done)
}

// ingest measures serve's ingest on the grown store and on a fresh one,
// alternating.
func (g *growth) ingest(ctx context.Context, grown *bench.Serve, row *bench.AtSize) error {
	loc, cleanup, err := freshStore(ctx, g.opts.Store)
	if err != nil {
		return err
	}
	defer cleanup()
	fresh, err := bench.StartServe(ctx, g.serveConfig(loc))
	if err != nil {
		return err
	}
	defer fresh.Stop()
	var grownRPS, freshRPS float64
	for range g.opts.Rounds {
		for _, t := range []struct {
			srv  *bench.Serve
			name string
			sum  *float64
		}{{grown, "at size", &grownRPS}, {fresh, "fresh", &freshRPS}} {
			load, err := bench.IngestLoad(t.srv.Webhook, g.secret, g.opts.Ingest, t.name)
			if err != nil {
				return err
			}
			res, err := bench.Run(ctx, load)
			if err != nil {
				return err
			}
			if res.OK() == 0 {
				return failed(fmt.Errorf("ingest %s: no webhook was answered 2xx: %v %v", t.name, res.ByStatus, res.Errors))
			}
			fmt.Fprintf(g.prog, "  ingest %-8s %6.0f req/s  p99 %s\n", t.name, res.RPS(), ms(res.P99))
			*t.sum += res.RPS()
			if t.srv == grown {
				row.IngestP99 = max(row.IngestP99, res.P99)
			}
		}
	}
	row.Ingest, row.FreshIngest = grownRPS/float64(g.opts.Rounds), freshRPS/float64(g.opts.Rounds)
	return fresh.Stop()
}

func (g *growth) serveConfig(loc string) bench.ServeConfig {
	return bench.ServeConfig{Exe: g.exe, Store: loc, Secret: g.secretText, ForwardTo: g.sink, Stderr: g.prog}
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// newSecretText is a fresh whsec_ signing secret for one run.
func newSecretText() string {
	key := make([]byte, 32)
	rand.Read(key)
	return signature.SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func backendName(loc string) string {
	if postgres.IsURL(loc) {
		return "PostgreSQL"
	}
	return "SQLite"
}

// storeExists says whether loc holds a hooklatch store (or, for SQLite, any
// file at all).
func storeExists(ctx context.Context, loc string) (bool, error) {
	if !postgres.IsURL(loc) {
		_, err := os.Stat(loc)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	st, err := postgres.Open(ctx, loc, postgres.Options{ReadOnly: true, MustExist: true, Logger: quietLog()})
	if errors.Is(err, store.ErrNoStore) {
		return false, nil
	}
	if err != nil {
		if errors.As(err, new(*store.SchemaError)) {
			return true, nil // an older build's: serve migrates it
		}
		return false, err
	}
	return true, st.Close()
}

// openForGrowth opens the store to append to, as serve would.
func openForGrowth(ctx context.Context, loc string) (store.Store, error) {
	if postgres.IsURL(loc) {
		return postgres.Open(ctx, loc, postgres.Options{Logger: quietLog()})
	}
	return sqlite.Open(ctx, loc, sqlite.Options{Exclusive: true, Logger: quietLog()})
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// freshStore is a new, empty store beside loc, and how to remove it.
func freshStore(ctx context.Context, loc string) (string, func(), error) {
	if !postgres.IsURL(loc) {
		dir, err := os.MkdirTemp(filepath.Dir(loc), "hooklatch-growth-fresh-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "fresh.db"), func() { os.RemoveAll(dir) }, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "", nil, err
	}
	schema := fmt.Sprintf("hooklatch_growth_fresh_%d", os.Getpid())
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	q.Del("schema")
	q.Del("search_path")
	admin := *u
	admin.RawQuery = q.Encode()
	drop := func() {
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	}
	return u.String(), drop, nil
}
