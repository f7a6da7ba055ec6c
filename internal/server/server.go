// Package server runs `hooklatch serve`: the webhook listener, the admin
// listener, and the store behind them, with a graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/internal/admin"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Config configures a Server. The CLI fills it from flags, environment and
// config file.
type Config struct {
	// Addr is the webhook listener's address. Defaults to ":3000".
	Addr string
	// Path is where webhooks are posted. Defaults to "/webhooks/sent".
	Path string
	// AdminAddr is the admin listener's address (health, metrics, API).
	// Defaults to "127.0.0.1:3001". "off" disables it.
	AdminAddr string
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// by every admin endpoint but /healthz, on loopback too (see
	// admin.Guard). At least MinAdminTokenLength characters. Required when
	// AdminAddr is not a loopback address.
	AdminToken string
	// AdminSessionTTL is how long a dashboard session lasts. Defaults to
	// admin.DefaultSessionTTL (12h).
	AdminSessionTTL time.Duration

	// Store is a SQLite path or a postgres:// URL. Defaults to
	// "hooklatch.db".
	Store string
	// StoreOptions tune the SQLite store. The server always opens it as
	// its owner (sqlite.Options.Exclusive).
	StoreOptions sqlite.Options
	// PostgresOptions tune the PostgreSQL store. Several servers may
	// share one: there is no owner.
	PostgresOptions postgres.Options

	// Secrets verify signatures. Required.
	Secrets []signature.Secret
	// Schemes accepted. Defaults to both.
	Schemes []signature.Scheme
	// Tolerance for v1 timestamps. Defaults to signature.DefaultTolerance.
	Tolerance time.Duration

	// MaxBodyBytes caps a webhook body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// MemoryBudgetBytes bounds the bytes of webhook bodies in flight and
	// rejections waiting to be kept (see receiver.Config). Defaults to
	// receiver.DefaultMemoryBudgetBytes (64 MiB).
	MemoryBudgetBytes int64
	// MinBodyRate is the slowest a webhook body may arrive, in bytes a
	// second, after a grace of 2s; slower ones get 408 (see
	// receiver.Config). Defaults to receiver.DefaultMinBodyRate (16 KiB/s).
	MinBodyRate int64
	// RejectionBodyMaxBytes is how much of a rejected body is kept.
	// Defaults to receiver.DefaultRejectionBodyMaxBytes (64 KiB).
	RejectionBodyMaxBytes int64
	// RejectionLimits bound the rejection log.
	RejectionLimits store.RejectionLimits
	// AnswerWithin bounds how long a webhook waits for the store before
	// it is answered 503 (see receiver.Config). Defaults to
	// receiver.DefaultAnswerWithin (4s).
	AnswerWithin time.Duration

	// Routes are where events go. Defaults to one route, "log", that logs
	// each event, unless StoreOnly is set.
	Routes []dispatch.Route
	// StoreOnly stores events and delivers them nowhere: no deliveries
	// are created and no dispatcher runs. Routes must be empty. Defaults
	// to false.
	StoreOnly bool
	// Lease is how long a claimed delivery is held. Defaults to the
	// longest attempt timeout plus a minute.
	Lease time.Duration
	// Clock drives the dispatcher. Defaults to the real clock.
	Clock clock.Clock

	// Retention is how long events whose deliveries are final are kept
	// (see internal/retention); at least 24h. Defaults to 30 days. A
	// store that cannot prune (SQLite, for now) keeps everything, and says
	// so when this is set.
	Retention time.Duration
	// RetentionDead, when set, is how long events with a dead delivery
	// are kept. Defaults to forever.
	RetentionDead time.Duration

	// ShutdownTimeout bounds the graceful drain. Defaults to 15s.
	ShutdownTimeout time.Duration

	// Observe, when set, is called once for every answered webhook
	// request, on the request path: it must be cheap and must not block
	// (see receiver.Config.Observe). Defaults to none.
	Observe func(receiver.Observation)
	// OnAttempt, when set, is told about every delivery attempt once it is
	// recorded (see dispatch.Config.OnAttempt). Defaults to none.
	OnAttempt func(dispatch.Attempted)
	// OnStart, when set, is called once Start has bound the listeners and
	// started serving, before Start returns. Defaults to none.
	OnStart func(*Server)

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is a running hooklatch serve.
type Server struct {
	cfg            Config
	store          store.Store
	receiver       *receiver.Receiver
	dispatch       *dispatch.Dispatcher
	cancelDispatch context.CancelFunc
	retainer       *retention.Retainer // nil when the store cannot prune
	cancelRetain   context.CancelFunc
	retainDone     chan struct{}
	dispatchDone   chan struct{}
	registry       *prometheus.Registry
	ready          *readiness
	adminAPI       *admin.Admin // nil when the admin listener is off
	stopAdmin      context.CancelFunc

	public, admin     *http.Server
	publicLn, adminLn net.Listener

	errc chan error
	wg   sync.WaitGroup
}

// MinAdminTokenLength is the fewest characters an admin token may have.
const MinAdminTokenLength = 16

// ErrConfig marks an error in the configuration, as opposed to one met
// while starting (a store that cannot open, a port in use).
var ErrConfig = errors.New("configuration")

func (c *Config) validate() error {
	if err := c.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (c *Config) check() error {
	if len(c.Secrets) == 0 {
		return errors.New("no signing secret: set SENT_WEBHOOK_SECRET or pass --secret (the whsec_… value from Sent's dashboard)")
	}
	if c.Addr == "" {
		c.Addr = ":3000"
	}
	if c.Path == "" {
		c.Path = "/webhooks/sent"
	}
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("webhook path %q must start with /", c.Path)
	}
	if c.AdminAddr == "" {
		c.AdminAddr = "127.0.0.1:3001"
	}
	if c.AdminAddr != "off" && c.AdminToken == "" && !isLoopback(c.AdminAddr) {
		return fmt.Errorf("admin listener %s is not on loopback: set HOOKLATCH_ADMIN_TOKEN, or use --admin-addr 127.0.0.1:3001", c.AdminAddr)
	}
	if n := utf8.RuneCountInString(c.AdminToken); n > 0 && n < MinAdminTokenLength {
		return fmt.Errorf("the admin token (HOOKLATCH_ADMIN_TOKEN) has %d characters: use at least %d, such as the one 'hooklatch token' prints", n, MinAdminTokenLength)
	}
	if c.AdminSessionTTL < 0 {
		return fmt.Errorf("admin session TTL %s: want a positive duration", c.AdminSessionTTL)
	}
	if c.Store == "" {
		c.Store = "hooklatch.db"
	}
	if c.StoreOnly && len(c.Routes) > 0 {
		return errors.New("StoreOnly delivers nowhere: it cannot have routes")
	}
	if err := retention.Check(c.Retention, c.RetentionDead); err != nil {
		return err
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New opens the store and builds the handlers. Start binds the listeners.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	verifier, err := signature.NewVerifier(signature.Config{
		Secrets:   cfg.Secrets,
		Tolerance: cfg.Tolerance,
		Schemes:   cfg.Schemes,
	})
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, &cfg)
	if err != nil {
		return nil, err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var (
		disp     *dispatch.Dispatcher
		route    func(string) []string
		onAccept func(store.AppendResult)
		ready    *readiness
	)
	rcvMetrics, dispMetrics := receiver.NewMetrics(registry), dispatch.NewMetrics(registry)
	now := time.Now
	if cfg.Clock != nil {
		now = cfg.Clock.Now
	}
	var adm *admin.Admin
	if cfg.AdminAddr != "off" {
		adm, err = admin.New(admin.Config{
			Store: st, Secrets: cfg.Secrets, Token: cfg.AdminToken, SessionTTL: cfg.AdminSessionTTL,
			Receiver: rcvMetrics, Dispatch: dispMetrics, Registry: registry,
			StoreFiles: storeFiles(cfg.Store),
			Ready:      func(context.Context) error { return ready.check() },
			Notify: func() {
				if disp != nil {
					disp.Notify()
				}
			},
			NowFunc: now,
			Logger:  cfg.Logger,
		})
		if err != nil {
			st.Close()
			return nil, err
		}
		cfg.OnAttempt = bothAttempt(cfg.OnAttempt, adm.OnAttempt)
		onAccept = adm.OnAccept
	}
	if !cfg.StoreOnly {
		routes := cfg.Routes
		if len(routes) == 0 {
			routes = []dispatch.Route{{Name: "log", Destination: logdest.New(cfg.Logger)}}
		}
		disp, err = dispatch.New(dispatch.Config{
			Store:     st,
			Routes:    routes,
			Clock:     cfg.Clock,
			Lease:     cfg.Lease,
			Metrics:   dispMetrics,
			OnAttempt: cfg.OnAttempt,
			Logger:    cfg.Logger,
		})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		route, onAccept = disp.Destinations, bothAccept(func(store.AppendResult) { disp.Notify() }, onAccept)
	}
	// What this process delivers to, for commands that add events to the
	// store while it runs (rejections release) to route them alike.
	var routes []dispatch.Route
	if disp != nil {
		routes = disp.Routes()
	}
	if o, ok := st.(*opening); ok { // the routes are recorded once it is open
		o.start(func(ctx context.Context, st store.Store) error { return dispatch.RecordRoutes(ctx, st, routes) })
	} else if err := dispatch.RecordRoutes(ctx, st, routes); err != nil {
		st.Close()
		return nil, err
	}
	rcv, err := receiver.New(receiver.Config{
		RouteFunc:       route,
		OnAccept:        onAccept,
		Observe:         cfg.Observe,
		Store:           st,
		Verifier:        verifier,
		Secrets:         cfg.Secrets,
		Tolerance:       cfg.Tolerance,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		RejectionLimits: cfg.RejectionLimits,
		AnswerWithin:    cfg.AnswerWithin,
		Metrics:         rcvMetrics,
		Logger:          cfg.Logger,

		MemoryBudgetBytes:     cfg.MemoryBudgetBytes,
		RejectionBodyMaxBytes: cfg.RejectionBodyMaxBytes,
		MinBodyRate:           cfg.MinBodyRate,
	})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	s := &Server{cfg: cfg, store: st, receiver: rcv, dispatch: disp, registry: registry, adminAPI: adm, errc: make(chan error, 2)}
	if s.retainer, err = newRetainer(cfg, st, registry); err != nil {
		st.Close()
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	ready = &readiness{
		probe: st.Ready, now: now, interval: time.Second, timeout: 2 * time.Second, logger: cfg.Logger,
		probes: promauto.With(registry).NewCounter(prometheus.CounterOpts{
			Name: "hooklatch_readiness_probes_total",
			Help: "Real writes made to answer /readyz (at most one a second, shared by all callers).",
		}),
	}
	s.ready = ready

	public := http.NewServeMux()
	public.Handle(cfg.Path, rcv) // the receiver answers 405 to other methods
	s.health(public)
	s.public = &http.Server{
		Handler:           public,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if cfg.AdminAddr != "off" {
		admin := http.NewServeMux()
		s.health(admin)
		admin.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
		mountAdmin(admin, adm)
		s.admin = &http.Server{
			Handler:           adm.Guard(admin),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		}
		s.admin.RegisterOnShutdown(adm.Close)
	}
	return s, nil
}

// openStore opens the store cfg names: a PostgreSQL database several
// servers share, or a SQLite file this server owns. A PostgreSQL database
// that cannot be reached yet, or a SQLite file on a full disk, is opened
// in the background (see opening).
func openStore(ctx context.Context, cfg *Config) (store.Store, error) {
	if postgres.IsURL(cfg.Store) {
		if cfg.PostgresOptions.Logger == nil {
			cfg.PostgresOptions.Logger = cfg.Logger
		}
		st, err := postgres.Open(ctx, cfg.Store, cfg.PostgresOptions)
		if postgres.Unreachable(err) { // serve starts, answering 503, and keeps trying
			location, opts := cfg.Store, cfg.PostgresOptions
			return newOpening(postgres.Redact(location), unreachable, err, cfg.Logger, func(ctx context.Context) (openedStore, error) {
				return postgres.Open(ctx, location, opts)
			}), nil
		}
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	if cfg.StoreOptions.Logger == nil {
		cfg.StoreOptions.Logger = cfg.Logger
	}
	// A server owns its SQLite store: a second one on the same file is
	// refused, and what a crashed predecessor left in flight is due again
	// at once.
	cfg.StoreOptions.Exclusive = true
	st, err := sqlite.Open(ctx, cfg.Store, cfg.StoreOptions)
	if sqlite.NoSpace(err, cfg.Store) { // serve starts, answering 503, until space is freed
		location, opts := cfg.Store, cfg.StoreOptions
		return newOpening(location, diskFull, err, cfg.Logger, func(ctx context.Context) (openedStore, error) {
			return sqlite.Open(ctx, location, opts)
		}), nil
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// newRetainer prunes st by cfg's retention, when st can prune.
func newRetainer(cfg Config, st store.Store, registry prometheus.Registerer) (*retention.Retainer, error) {
	p, ok := st.(retention.Pruner)
	if !ok {
		if cfg.Retention != 0 || cfg.RetentionDead != 0 {
			cfg.Logger.Warn("retention is not applied: this store cannot prune, and keeps every event", "store", cfg.Store)
		}
		return nil, nil
	}
	return retention.New(retention.Config{
		Store: p, Retention: cfg.Retention, RetentionDead: cfg.RetentionDead, Clock: cfg.Clock,
		Metrics: retention.NewMetrics(registry), Logger: cfg.Logger,
	})
}

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.store }

func (s *Server) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := s.ready.check(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable","detail":"the store cannot take writes"}`))
			return
		}
		w.Write([]byte(`{"status":"ready"}`))
	})
}

// Start binds the listeners and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("webhook listener: %w", err)
	}
	s.publicLn = ln
	if s.admin != nil {
		aln, err := net.Listen("tcp", s.cfg.AdminAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		s.adminLn = aln
		ctx, cancel := context.WithCancel(context.Background())
		s.stopAdmin = cancel
		s.wg.Go(func() { s.adminAPI.Run(ctx) })
		s.serve(s.admin, aln)
	}
	s.serve(s.public, ln)
	if s.dispatch != nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancelDispatch, s.dispatchDone = cancel, make(chan struct{})
		go func() { s.dispatch.Run(ctx); close(s.dispatchDone) }()
	}
	if s.retainer != nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.cancelRetain, s.retainDone = cancel, make(chan struct{})
		go func() { s.retainer.Run(ctx); close(s.retainDone) }()
	}
	s.cfg.Logger.Info("hooklatch is receiving webhooks",
		"url", s.URL(), "store", postgres.Redact(s.cfg.Store), "admin", s.AdminAddr())
	if s.cfg.OnStart != nil {
		s.cfg.OnStart(s)
	}
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	})
}

// displayAddr names a bound address the way a person would type it.
func displayAddr(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return a.String()
}

// URL is where webhooks are posted, as a person would type it
// (localhost for an unspecified address).
func (s *Server) URL() string { return "http://" + displayAddr(s.publicLn.Addr()) + s.cfg.Path }

// Addr is the webhook listener's bound address.
func (s *Server) Addr() string { return s.publicLn.Addr().String() }

// AdminAddr is the admin listener's bound address, or "off".
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return "off"
	}
	return s.adminLn.Addr().String()
}

// Run starts the server and serves until ctx is done or a listener fails,
// then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(); err != nil {
		s.store.Close()
		return err
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-s.errc:
	}
	return errors.Join(runErr, s.Shutdown())
}

// Shutdown stops accepting requests, lets requests in flight finish (their
// appends commit and they get their answers), keeps the queued rejections,
// and closes the store. It may also be called instead of Start, to close a
// server that New built.
func (s *Server) Shutdown() error {
	s.cfg.Logger.Info("shutting down: finishing requests in flight")
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := s.public.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("webhook listener: %w", err))
	}
	if s.admin != nil {
		if err := s.admin.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("admin listener: %w", err))
		}
	}
	if s.stopAdmin != nil {
		s.stopAdmin()
	}
	s.wg.Wait()
	// Deliveries in flight finish and are recorded before the store closes.
	// There is no dispatcher to stop when the server stores only, or was
	// never started.
	if s.cancelDispatch != nil {
		s.cancelDispatch()
		<-s.dispatchDone
		errs = append(errs, closeDestinations(s.cfg.Routes))
	}
	if s.cancelRetain != nil {
		s.cancelRetain()
		<-s.retainDone
	}
	errs = append(errs, s.receiver.Close(), s.store.Close())
	return errors.Join(errs...)
}

// storeFiles names a SQLite store's files for the admin's size metrics; a
// PostgreSQL store has none.
func storeFiles(location string) map[string]string {
	if postgres.IsURL(location) {
		return nil
	}
	return map[string]string{"db": location, "wal": location + "-wal"}
}
