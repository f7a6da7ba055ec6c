// Package engine builds what receives, keeps and delivers webhooks: the
// store, the receiver, the dispatcher, retention and the admin API with its
// dashboard and metrics. `hooklatch serve` (internal/server) and the
// library's Relay are both an engine behind their own listeners.
//
// Its life has three steps. New opens the store and builds the parts; if a
// step fails, what the earlier steps started is stopped before New
// returns. Run runs the loops (dispatcher, retention, the admin's sampler)
// until its context is done, and returns once they have stopped. Close
// closes the destinations, the receiver and the store New opened; it may
// follow New directly, when Run never ran.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/internal/admin"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/internal/storeopen"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Config configures an Engine. Zero values take the defaults of the part
// they configure (see receiver.Config, dispatch.Config, retention.Config).
type Config struct {
	// Store is a SQLite path or a postgres:// URL, opened as its owner
	// (storeopen.Own) and closed by Close. Defaults to "hooklatch.db"
	// unless Backend is set.
	Store string
	// Backend is a store already opened, used instead of Store. Close
	// leaves it open.
	Backend store.Store
	// SQLite and Postgres tune the store Store names.
	SQLite   sqlite.Options
	Postgres postgres.Options
	// WaitForStore starts even when PostgreSQL cannot be reached or the
	// disk of a SQLite store is full: the store opens in the background,
	// and until it has, every call to it fails saying why (the receiver
	// answers 503 with Retry-After).
	WaitForStore bool

	// Secrets verify Sent's signatures. Required, unless Endpoints are
	// set: then without secrets Sent's endpoint is not served.
	Secrets   []signature.Secret
	Schemes   []signature.Scheme
	Tolerance time.Duration
	// SentSource names Sent's source in the store. Defaults to "sent".
	SentSource string
	// Endpoints are other providers' sources (see receiver.Config).
	Endpoints []receiver.Endpoint

	MaxBodyBytes          int64
	MemoryBudgetBytes     int64
	MinBodyRate           int64
	RejectionBodyMaxBytes int64
	RejectionLimits       store.RejectionLimits
	AnswerWithin          time.Duration
	Observe               func(receiver.Observation)

	// Routes are where events go, their destinations already built. The
	// engine owns them from New on: Close closes those that are io.Closer,
	// and so does a New that fails.
	Routes []dispatch.Route
	// StoreOnly stores events and delivers them nowhere. Routes must be
	// empty.
	StoreOnly bool
	Lease     time.Duration
	Clock     clock.Clock
	OnAttempt func(dispatch.Attempted)
	// FailureLogEvery bounds how often a failing destination is
	// summarised (see dispatch.Config).
	FailureLogEvery time.Duration

	// Retention and RetentionDead bound how long events are kept (see
	// retention.Config); a store that cannot prune keeps everything.
	Retention     time.Duration
	RetentionDead time.Duration

	// Admin builds the admin API, the dashboard and the metrics
	// (AdminHandler). AdminToken, when set, is required by all of it but
	// /healthz; without one only requests addressed to a loopback host are
	// answered.
	Admin           bool
	AdminToken      string
	AdminSessionTTL time.Duration

	// TracerProvider, when set, traces each webhook's receipt and each
	// delivery attempt (see receiver.Config and dispatch.Config). Defaults
	// to none: tracing is off and costs nothing.
	TracerProvider trace.TracerProvider

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// MinAdminTokenLength is the fewest characters an admin token may have,
// for serve and the relay alike.
const MinAdminTokenLength = 16

// ErrConfig marks an error in the configuration, as opposed to one met
// while starting (a store that cannot open, a port in use).
var ErrConfig = errors.New("configuration")

// Engine is a store with its receiver, dispatcher, retention and admin.
type Engine struct {
	cfg      Config
	store    store.Store
	owned    bool // the engine opened store, and closes it
	receiver *receiver.Receiver
	dispatch *dispatch.Dispatcher // nil when StoreOnly
	retainer *retention.Retainer  // nil when the store cannot prune
	registry *prometheus.Registry
	ready    *readiness
	admin    *admin.Admin // nil unless Config.Admin
	handler  http.Handler // the admin's, guarded

	closeOnce sync.Once
	closeErr  error
}

// New opens the store and builds the parts. On an error, everything it
// had opened or started is closed, and the routes' destinations too.
func New(ctx context.Context, cfg Config) (_ *Engine, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Store == "" && cfg.Backend == nil {
		cfg.Store = "hooklatch.db"
	}
	e := &Engine{cfg: cfg, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			if cerr := e.Close(); cerr != nil {
				cfg.Logger.Warn("closing what was started", "err", cerr)
			}
		}
	}()
	var verifier *signature.Verifier
	if len(cfg.Secrets) > 0 || len(cfg.Endpoints) == 0 {
		if verifier, err = signature.NewVerifier(signature.Config{Secrets: cfg.Secrets, Tolerance: cfg.Tolerance, Schemes: cfg.Schemes}); err != nil {
			return nil, err
		}
	}
	if err := e.openStore(ctx); err != nil {
		return nil, err
	}
	if err := e.build(ctx, verifier); err != nil {
		return nil, err
	}
	return e, nil
}

// build makes the parts over the opened store, in the order each needs
// the others.
func (e *Engine) build(ctx context.Context, verifier *signature.Verifier) error {
	cfg := &e.cfg
	e.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.ready = &readiness{
		probe: func(ctx context.Context) error { return e.store.Ready(ctx) }, now: e.now,
		interval: time.Second, timeout: 2 * time.Second, logger: cfg.Logger,
		probes: promauto.With(e.registry).NewCounter(prometheus.CounterOpts{
			Name: "hooklatch_readiness_probes_total",
			Help: "Real writes made to answer /readyz (at most one a second, shared by all callers).",
		}),
	}
	rcvMetrics, dispMetrics := receiver.NewMetrics(e.registry), dispatch.NewMetrics(e.registry)
	var onAccept func(store.AppendResult)
	if cfg.Admin {
		if err := e.buildAdmin(rcvMetrics, dispMetrics); err != nil {
			return err
		}
		onAccept = e.admin.OnAccept
	}
	var route func(*store.EventData) []string
	if !cfg.StoreOnly {
		disp, err := dispatch.New(dispatch.Config{
			Store: e.store, Routes: cfg.Routes, Clock: cfg.Clock, Lease: cfg.Lease,
			Metrics: dispMetrics, OnAttempt: cfg.OnAttempt, FailureLogEvery: cfg.FailureLogEvery, TracerProvider: cfg.TracerProvider, Logger: cfg.Logger,
		})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		e.dispatch = disp
		// An append that claimed every delivery it made has handed them to
		// the dispatcher already (store.AppendClaimer), and a duplicate
		// made none: nothing to wake the dispatcher for.
		route, onAccept = disp.Destinations, bothAccept(func(res store.AppendResult) {
			if !res.Handed && !res.Duplicate {
				disp.Notify()
			}
		}, onAccept)
	}
	if err := e.recordRoutes(ctx); err != nil {
		return err
	}
	rcv, err := receiver.New(receiver.Config{
		RouteFunc: route, OnAccept: onAccept, Observe: cfg.Observe,
		Store: e.store, Verifier: verifier, Secrets: cfg.Secrets, Tolerance: cfg.Tolerance, Source: cfg.SentSource, Endpoints: cfg.Endpoints,
		MaxBodyBytes: cfg.MaxBodyBytes, RejectionLimits: cfg.RejectionLimits, AnswerWithin: cfg.AnswerWithin,
		MemoryBudgetBytes: cfg.MemoryBudgetBytes, RejectionBodyMaxBytes: cfg.RejectionBodyMaxBytes, MinBodyRate: cfg.MinBodyRate,
		Metrics: rcvMetrics, TracerProvider: cfg.TracerProvider, Logger: cfg.Logger,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	e.receiver = rcv
	if e.retainer, err = e.newRetainer(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

// openStore opens the store the config names, or takes its Backend. With
// WaitForStore, a PostgreSQL server that cannot be reached yet, or a
// SQLite file on a full disk, is opened in the background (see opening).
func (e *Engine) openStore(ctx context.Context) error {
	cfg := &e.cfg
	if cfg.Backend != nil {
		e.store = cfg.Backend
		return nil
	}
	opts := storeopen.Options{Use: storeopen.Own, SQLite: cfg.SQLite, Postgres: cfg.Postgres, Logger: cfg.Logger}
	st, err := storeopen.Open(ctx, cfg.Store, opts)
	if why, ok := e.obstacle(err); ok {
		location := cfg.Store
		st, err = newOpening(storeopen.Redact(location), why, err, cfg.Logger, func(ctx context.Context) (openedStore, error) {
			st, err := storeopen.Open(ctx, location, opts)
			if err != nil {
				return nil, err
			}
			return st.(openedStore), nil
		}), nil
	}
	if err != nil {
		return err
	}
	e.store, e.owned = st, true
	return nil
}

// obstacle says whether err is one that time may mend, and New should
// wait out in the background.
func (e *Engine) obstacle(err error) (obstacle, bool) {
	switch {
	case err == nil || !e.cfg.WaitForStore:
		return obstacle{}, false
	case storeopen.IsPostgres(e.cfg.Store) && postgres.Unreachable(err):
		return unreachable, true
	case !storeopen.IsPostgres(e.cfg.Store) && sqlite.NoSpace(err, e.cfg.Store):
		return diskFull, true
	}
	return obstacle{}, false
}

// recordRoutes tells the store where this process delivers, for commands
// that add events to it while it runs (rejections release) to route them
// alike; a store still opening records them once it is open.
func (e *Engine) recordRoutes(ctx context.Context) error {
	var routes []dispatch.Route
	if e.dispatch != nil {
		routes = e.dispatch.Routes()
	}
	record := func(ctx context.Context, st store.Store) error { return dispatch.RecordRoutes(ctx, st, routes) }
	if o, ok := e.store.(*opening); ok {
		o.start(record)
		return nil
	}
	return record(ctx, e.store)
}

// buildAdmin makes the admin API and dashboard, and the handler that
// serves them with the health checks and the metrics.
func (e *Engine) buildAdmin(rcvMetrics *receiver.Metrics, dispMetrics *dispatch.Metrics) error {
	cfg := &e.cfg
	adm, err := admin.New(admin.Config{
		Store: e.store, Secrets: cfg.Secrets, Token: cfg.AdminToken, SessionTTL: cfg.AdminSessionTTL,
		Receiver: rcvMetrics, Dispatch: dispMetrics, Registry: e.registry,
		StoreFiles: storeFiles(cfg.Store, cfg.Backend),
		Ready:      func(context.Context) error { return e.ready.check() },
		Notify: func() {
			if e.dispatch != nil {
				e.dispatch.Notify()
			}
		},
		Sources: receiver.SourcesByName(cfg.Endpoints),
		FilteredOut: func(ev *store.Event) []string {
			if e.dispatch == nil {
				return nil
			}
			return e.dispatch.FilteredOut(ev)
		},
		OpenBreakers: func() map[string]time.Time {
			if e.dispatch == nil {
				return nil
			}
			return e.dispatch.OpenBreakers()
		},
		NowFunc: e.now,
		Logger:  cfg.Logger,
	})
	if err != nil {
		return err
	}
	e.admin = adm
	e.cfg.OnAttempt = bothAttempt(cfg.OnAttempt, adm.OnAttempt)
	mux := http.NewServeMux()
	e.Health(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{}))
	mountAdmin(mux, adm)
	e.handler = adm.Guard(mux)
	return nil
}

func (e *Engine) now() time.Time {
	if e.cfg.Clock != nil {
		return e.cfg.Clock.Now()
	}
	return time.Now()
}

// newRetainer prunes the store by the config's retention, when it can
// prune.
func (e *Engine) newRetainer() (*retention.Retainer, error) {
	cfg := &e.cfg
	p, ok := e.store.(retention.Pruner)
	if !ok {
		if cfg.Retention != 0 || cfg.RetentionDead != 0 {
			cfg.Logger.Warn("retention is not applied: this store cannot prune, and keeps every event", "store", storeopen.Redact(cfg.Store))
		}
		return nil, nil
	}
	return retention.New(retention.Config{
		Store: p, Retention: cfg.Retention, RetentionDead: cfg.RetentionDead, Clock: cfg.Clock,
		Metrics: retention.NewMetrics(e.registry), Logger: cfg.Logger,
	})
}

// storeFiles names a SQLite store's files for the admin's size metrics; a
// PostgreSQL store, or one opened by the caller, has none.
func storeFiles(location string, backend store.Store) map[string]string {
	if backend != nil || storeopen.IsPostgres(location) {
		return nil
	}
	return map[string]string{"db": location, "wal": location + "-wal"}
}

// Store is the engine's store.
func (e *Engine) Store() store.Store { return e.store }

// Receiver is the handler to mount where webhooks are posted.
func (e *Engine) Receiver() http.Handler { return e.receiver }

// Routes are the dispatcher's routes, with their defaults; none when
// StoreOnly.
func (e *Engine) Routes() []dispatch.Route {
	if e.dispatch == nil {
		return nil
	}
	return e.dispatch.Routes()
}

// AdminHandler serves the admin API (/v1/), the dashboard (/ui/), the
// metrics (/metrics) and the health checks, behind the admin token; nil
// unless Config.Admin. Its pages link to /ui/ and /v1/: mount it at the
// root of a listener or a mux of its own.
func (e *Engine) AdminHandler() http.Handler { return e.handler }

// EndStreams ends the admin's open event streams, so that an HTTP server
// shutting down does not wait for them.
func (e *Engine) EndStreams() {
	if e.admin != nil {
		e.admin.Close()
	}
}

// Health mounts /healthz (the process answers) and /readyz (the store can
// take a write, probed at most once a second) on mux.
func (e *Engine) Health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := e.ready.check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable","detail":"the store cannot take writes"}`))
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	})
}

// Run runs the dispatcher, retention and the admin's sampler until ctx is
// done, and returns once they have stopped (deliveries in flight finish
// and are recorded).
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if e.admin != nil {
		wg.Go(func() { e.admin.Run(ctx) })
	}
	if e.retainer != nil {
		wg.Go(func() { e.retainer.Run(ctx) })
	}
	var err error
	if e.dispatch != nil {
		err = e.dispatch.Run(ctx)
	} else {
		<-ctx.Done()
	}
	wg.Wait()
	return err
}

// Close closes the destinations, stops the receiver (keeping the
// rejections it holds) and closes the store the engine opened. Call it
// once Run has returned and the listeners have stopped. Closing twice is
// harmless.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.EndStreams()
		errs := []error{closeDestinations(e.cfg.Routes)}
		if e.receiver != nil {
			errs = append(errs, e.receiver.Close())
		}
		if e.owned {
			errs = append(errs, e.store.Close())
		}
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}
