package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/bench"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/postgres"
)

// BenchOptions are the settings of `hooklatch bench`.
type BenchOptions struct {
	URL         string // empty: an in-process hooklatch serve on a temporary store
	Store       string // in-process store path; empty: a temporary directory
	Duration    time.Duration
	Connections int
	Scheme      signature.Scheme
	Secret      signature.Secret
	Type        string
	Baseline    bool
	CPUProfile  string // write a CPU profile of the target run here
	Trace       string // write an execution trace of the target run here
	StoreOnly   bool   // in-process: store events, deliver them nowhere
	Filter      string // in-process: the destination's content filter
	Attack      string // hostile load beside valid webhooks sent at Rate
	Rate        float64
	OpenLoop    bool // --rate without --attack: valid webhooks at Rate, open loop
	// Getenv reads the OTEL_* variables that turn tracing on in the
	// in-process server, as for serve. Defaults to none: tracing is off.
	Getenv func(string) string
}

func newBenchCommand(env Env) *cobra.Command {
	var (
		opts   BenchOptions
		scheme string
		logger func() (*slog.Logger, error)
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure acknowledgement throughput and latency under concurrent signed load",
		Long: `bench posts correctly signed webhooks, each with a fresh event id, from many
connections at once for a bounded time, and prints requests per second,
p50/p99/p99.9 acknowledgement latency and answers by status.

Without --url it starts hooklatch serve in-process on a temporary SQLite store.
With --baseline it first sends the same load to a bare net/http handler that
answers 200 in the same process, and prints the ratio: what durability costs.

With --attack it sends hostile load and, beside it, valid webhooks at --rate a
second, and prints how many of them were accepted:
  trickle       1,100 connections declare bodies of 65,000 bytes and send a
                byte of them every 2s
  trickle-many  4,200 connections do the same with bodies of 16,383 bytes
  slow          256 senders post 64 KiB bodies at 4 KiB/s, again and again
  flood         64 senders post forged 1 MiB bodies as fast as answered

With --rate alone it is open loop: a webhook is due every 1/rate seconds
whatever the answers do, and latency counts from when it was due, so queueing
is not hidden by sending less. The in-process serve then forwards each event
over HTTP to a receiver bench starts, and bench also prints the time from due
to the forwarded request's arrival (receipt-to-delivery).`,
		Example: `  hooklatch bench --baseline
  hooklatch bench --url http://127.0.0.1:3000/webhooks/sent --secret whsec_... --connections 64
  hooklatch bench --attack trickle --rate 50 --duration 60s
  hooklatch bench --rate 2000 --baseline`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Scheme, err = parseScheme(scheme); err != nil {
				return usageError("--scheme: %v", err)
			}
			raw := setting(cmd.Flags(), "secret", env.Getenv, "SENT_WEBHOOK_SECRET", "SENT_DM_WEBHOOK_SECRET")
			switch {
			case raw != "":
				secrets, err := signature.ParseSecrets(raw)
				if err != nil {
					return secretError("signing secret", err)
				}
				opts.Secret = secrets[0]
			case opts.URL != "":
				return usageError("--url needs the target's secret: pass --secret or set SENT_WEBHOOK_SECRET")
			default:
				opts.Secret = signature.NewSecret()
			}
			if opts.Connections <= 0 || opts.Duration <= 0 {
				return usageError("--connections and --duration must be positive")
			}
			if opts.Attack != "" && !slices.Contains(bench.AttackKinds, opts.Attack) {
				return usageError("--attack %q: want one of %s", opts.Attack, strings.Join(bench.AttackKinds, ", "))
			}
			if opts.Attack != "" && (opts.Baseline || opts.Rate <= 0) {
				return usageError("--attack sends valid webhooks at --rate (a positive number) beside the attack, and has no --baseline")
			}
			opts.OpenLoop = opts.Attack == "" && cmd.Flags().Changed("rate")
			if opts.OpenLoop && opts.Rate <= 0 {
				return usageError("--rate must be positive")
			}
			if (opts.StoreOnly || opts.Filter != "") && opts.URL != "" {
				return usageError("--store-only and --filter shape the in-process server; with --url, configure the target itself")
			}
			if opts.StoreOnly && opts.Filter != "" {
				return usageError("--filter filters what the destination is sent: with --store-only there is none")
			}
			log, err := logger()
			if err != nil {
				return err
			}
			opts.Getenv = env.Getenv
			return RunBench(cmd.Context(), env.Stdout, env.Stderr, log, opts)
		},
	}
	f := cmd.Flags()
	logger = logFlags(cmd, env, "warn") // the in-process server's warnings; bench prints the rest
	f.StringVar(&opts.URL, "url", "", "target webhook URL (default: an in-process hooklatch serve)")
	f.StringVar(&opts.Store, "store", "", "in-process store: a SQLite file path or a postgres:// URL (default: a SQLite file in a temporary directory)")
	f.DurationVar(&opts.Duration, "duration", 10*time.Second, "how long each run lasts")
	f.IntVar(&opts.Connections, "connections", 64, "requests in flight at once")
	f.StringVar(&scheme, "scheme", "v1", "signature scheme: v1 or legacy")
	f.StringVar(&opts.Type, "type", "message.delivered", "event type of the posted sample")
	f.BoolVar(&opts.Baseline, "baseline", false, "also measure a bare net/http handler answering 200, and print the ratio")
	f.StringVar(&opts.CPUProfile, "cpuprofile", "", "write a CPU profile of the target run (go tool pprof) to this file")
	f.StringVar(&opts.Trace, "trace", "", "write an execution trace of the target run (go tool trace: where requests wait) to this file")
	f.StringVar(&opts.Attack, "attack", "", "send this hostile load beside valid webhooks at --rate: "+strings.Join(bench.AttackKinds, ", "))
	f.Float64Var(&opts.Rate, "rate", 50, "valid webhooks a second: alone, an open-loop run forwarding over HTTP; with --attack, sent beside it")
	f.StringVar(&opts.Filter, "filter", "", "in-process: give the destination this content filter (see docs/filters.md), to measure what it costs the acknowledgement")
	f.BoolVar(&opts.StoreOnly, "store-only", false, "in-process: store events without delivering them, to measure ingest alone (default: each event goes to the log destination, as with serve)")
	addSecretFlags(cmd)
	cmd.AddCommand(newBenchGrowthCommand(env))
	return cmd
}

// RunBench runs the benchmark and prints the table to out, progress to progress.
func RunBench(ctx context.Context, out, progress io.Writer, log *slog.Logger, opts BenchOptions) error {
	body, err := event.Sample(opts.Type, event.SampleOptions{})
	if err != nil {
		return usageError("--type: %v", err)
	}
	env, err := event.Parse(body)
	if err != nil || env.Subject().ID == "" {
		return usageError("--type %s: its sample has no subject id to make each request a new event", opts.Type)
	}
	load := bench.Load{
		Body:        body,
		Vary:        env.Subject().ID, // a fresh subject per request: a new event each time
		Scheme:      opts.Scheme,
		Secret:      opts.Secret,
		Connections: opts.Connections,
		Duration:    opts.Duration,
		Progress:    progress,
	}
	var results []bench.Result
	arrivals := bench.NewArrivals()

	if opts.Baseline {
		url, stop, err := startBare()
		if err != nil {
			return err
		}
		load.URL, load.Name = url, "bare"
		fmt.Fprintf(progress, "baseline: a bare net/http handler answering 200 at %s\n", url)
		res, err := send(ctx, load, opts)
		stop()
		if err != nil {
			return err
		}
		results = append(results, res)
	}

	load.URL, load.Name = opts.URL, "target"
	if opts.URL == "" {
		dir := ""
		if opts.Store == "" {
			if dir, err = os.MkdirTemp("", "hooklatch-bench-"); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			opts.Store = filepath.Join(dir, "bench.db")
		}
		cfg := server.Config{
			Addr:      "127.0.0.1:0",
			AdminAddr: "off",
			Store:     opts.Store,
			Secrets:   []signature.Secret{opts.Secret},
			StoreOnly: opts.StoreOnly,
			Logger:    log.With("component", "serve"),
		}
		filter, err := compileFilter("--filter", opts.Filter)
		if err != nil {
			return err
		}
		if opts.OpenLoop && !opts.StoreOnly {
			url, stop, err := arrivals.Start()
			if err != nil {
				return err
			}
			defer stop()
			dest, err := httpdest.New(httpdest.Config{URL: url})
			if err != nil {
				return err
			}
			cfg.Routes = []dispatch.Route{{Name: "forward", Destination: dest, Filter: filter}}
			fmt.Fprintf(progress, "forwarding over HTTP to a receiver answering 200 at %s\n", url)
		} else if !opts.StoreOnly {
			// serve's default destination, logging each event as JSON as it
			// would to a file, into nothing: its cost is measured, and its
			// lines are not printed amid bench's own.
			cfg.Routes = []dispatch.Route{{Name: "log", Destination: logdest.New(slog.New(slog.NewJSONHandler(io.Discard, nil))), Filter: filter}}
		}
		// The collector as serve tunes it, for this run only: the bare
		// handler runs with the Go runtime's defaults.
		if os.Getenv("GOGC") == "" {
			defer debug.SetGCPercent(debug.SetGCPercent(defaultGCPercent))
			if os.Getenv("GOMEMLIMIT") == "" {
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(receiver.DefaultMemoryBudgetBytes + 64<<20))
			}
		}
		if opts.Getenv != nil {
			tp, err := startTracing(ctx, opts.Getenv, nil)
			if err != nil {
				return err
			}
			if tp != nil {
				defer stopTracing(tp, log)
				cfg.TracerProvider = tp.TracerProvider()
				fmt.Fprintf(progress, "tracing is on (%s): spans are exported over OTLP\n", tp.Why)
			}
		}
		srv, err := server.New(ctx, cfg)
		if err != nil {
			return err
		}
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Shutdown()
		load.URL, load.Name = "http://"+srv.Addr()+"/webhooks/sent", "hooklatch"
		if postgres.IsURL(opts.Store) {
			fmt.Fprintf(progress, "hooklatch serve in-process at %s, PostgreSQL store %s\n", load.URL, postgres.Redact(opts.Store))
		} else {
			fmt.Fprintf(progress, "hooklatch serve in-process at %s, SQLite store %s (WAL, synchronous=FULL)\n", load.URL, opts.Store)
		}
	}
	if opts.Attack != "" {
		return runAttack(ctx, out, progress, opts, load)
	}
	stopProfile, err := record(opts.CPUProfile, "--cpuprofile", pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	stopTrace, err := record(opts.Trace, "--trace", trace.Start, trace.Stop)
	if err != nil {
		stopProfile()
		return err
	}
	if opts.OpenLoop {
		load.Sent = arrivals.Sent
	}
	res, err := send(ctx, load, opts)
	stopTrace()
	stopProfile()
	if err != nil {
		return err
	}
	results = append(results, res)
	printBench(out, opts, results)
	if opts.OpenLoop && opts.URL == "" && !opts.StoreOnly {
		printDelivery(out, arrivals)
	}
	if res.OK() == 0 {
		return failed(fmt.Errorf("no request to %s was answered 2xx", load.URL))
	}
	return nil
}

// record starts writing a recording of the process (a CPU profile, an
// execution trace) to the file path, named by flag in errors, and returns
// what ends it and closes the file. An empty path records nothing.
func record(path, flag string, start func(io.Writer) error, stop func()) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, usageError("%s: %v", flag, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { stop(); f.Close() }, nil
}

// send runs load closed loop, or open loop at opts.Rate with --rate.
func send(ctx context.Context, load bench.Load, opts BenchOptions) (bench.Result, error) {
	if opts.OpenLoop {
		return bench.Paced(ctx, load, opts.Rate)
	}
	return bench.Run(ctx, load)
}

// printDelivery prints receipt-to-delivery latency, after waiting up to 10s
// for the last forwarded events.
func printDelivery(w io.Writer, a *bench.Arrivals) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, missing, _ := a.Result("", 0); missing == 0 {
			break
		}
	}
	d, missing, unmatched := a.Result("delivery", 0)
	fmt.Fprintf(w, "\nreceipt-to-delivery (due to arrival at the receiver): %d delivered, p50 %s, p99 %s, p99.9 %s, max %s; %d not delivered, %d unmatched\n",
		d.Requests, ms(d.P50), ms(d.P99), ms(d.P999), ms(d.Max), missing, unmatched)
}

// runAttack sends the attack and, once its connections are open, the valid
// webhooks of load at opts.Rate a second.
func runAttack(ctx context.Context, out, progress io.Writer, opts BenchOptions, load bench.Load) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	attacked := make(chan bench.AttackResult, 1)
	fmt.Fprintf(progress, "attack %s on %s\n", opts.Attack, load.URL)
	go func() {
		res, _ := bench.Attack{Kind: opts.Attack, URL: load.URL}.Run(ctx, ready)
		attacked <- res
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(progress, "the attack's connections are open; sending valid webhooks at %.0f a second for %s\n", opts.Rate, opts.Duration)
	valid, err := bench.Paced(ctx, load, opts.Rate)
	cancel()
	a := <-attacked
	if err != nil {
		return err
	}
	sent := valid.Requests
	for _, n := range valid.Errors {
		sent += n
	}
	fmt.Fprintf(out, "\nvalid webhooks: %d sent, %d accepted (%.1f%%), p50 %s, p99 %s, max %s\n",
		sent, valid.OK(), 100*float64(valid.OK())/float64(max(sent, 1)), ms(valid.P50), ms(valid.P99), ms(valid.Max))
	valid.Name = "valid"
	printAnswers(out, valid)
	fmt.Fprintf(out, "attack %s: %v\n", opts.Attack, a)
	if valid.OK() == 0 {
		return failed(fmt.Errorf("no valid webhook to %s was answered 2xx", load.URL))
	}
	return nil
}

// startBare serves the baseline: read the body, answer 200.
func startBare() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"accepted"}`))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/webhooks/sent", func() { srv.Close() }, nil
}

func printBench(w io.Writer, opts BenchOptions, results []bench.Result) {
	load := devtools.Count(opts.Connections, "connection", "connections")
	if opts.OpenLoop {
		load = fmt.Sprintf("open loop at %.0f/s, latency from when each was due", opts.Rate)
	}
	fmt.Fprintf(w, "\n%s, %s each, %s signatures, %s events\n\n", load, opts.Duration, opts.Scheme, opts.Type)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tp50\tp99\tp99.9\tmax\t2xx\tother\terrors\t")
	for _, r := range results {
		var errs int64
		for _, n := range r.Errors {
			errs += n
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", r.Name, r.RPS(), ms(r.P50), ms(r.P99), ms(r.P999), ms(r.Max),
			r.OK(), r.Requests-r.OK(), errs)
	}
	tw.Flush()
	if len(results) == 2 && opts.OpenLoop {
		fmt.Fprintf(w, "\n%s p99 %s vs the bare handler's %s at the same rate\n", results[1].Name, ms(results[1].P99), ms(results[0].P99))
	} else if len(results) == 2 && results[0].RPS() > 0 {
		b, t := results[0], results[1]
		fmt.Fprintf(w, "\n%s reaches %.0f%% of the bare handler's req/s (%.2fx); p99 %s vs %s\n",
			t.Name, 100*t.RPS()/b.RPS(), t.RPS()/b.RPS(), ms(t.P99), ms(b.P99))
	}
	for _, r := range results {
		printAnswers(w, r)
	}
}

// printAnswers prints r's answers by status, then its transport errors.
func printAnswers(w io.Writer, r bench.Result) {
	codes := slices.Sorted(maps.Keys(r.ByStatus))
	fmt.Fprintf(w, "%s answers:", r.Name)
	for _, c := range codes {
		fmt.Fprintf(w, " %d×%d", c, r.ByStatus[c])
	}
	fmt.Fprintln(w)
	for msg, n := range r.Errors {
		fmt.Fprintf(w, "  %d× %s\n", n, msg)
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
}
