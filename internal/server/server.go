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

	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/logdest"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/engine"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/internal/storeopen"
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
	// SentSource names Sent's source in the store. Defaults to "sent".
	SentSource string
	// Sources are other providers' sources, each at its own path, received
	// with the same guarantees as Sent's. Defaults to none.
	Sources []receiver.Endpoint
	// TLS, when it names certificate files or domains, makes the webhook
	// listener speak HTTPS. Defaults to plain HTTP.
	TLS TLSConfig
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
	// FailureLogEvery is how often, at most, a destination whose attempts
	// keep failing is summarised in the log. Defaults to
	// dispatch.DefaultFailureLogEvery (1m).
	FailureLogEvery time.Duration

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
	// TracerProvider, when set, traces each webhook and each delivery
	// attempt (see engine.Config). Defaults to none: tracing is off.
	TracerProvider trace.TracerProvider

	// OnStart, when set, is called once Start has bound the listeners and
	// started serving, before Start returns. Defaults to none.
	OnStart func(*Server)

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is a running hooklatch serve: an engine behind two listeners.
type Server struct {
	cfg       Config
	engine    *engine.Engine
	cancelRun context.CancelFunc
	runDone   chan struct{}

	public, admin     *http.Server
	publicLn, adminLn net.Listener
	certs             *certs // nil for plain HTTP
	redirect          *http.Server
	redirectLn        net.Listener

	errc chan error
	wg   sync.WaitGroup
}

// MinAdminTokenLength is the fewest characters an admin token may have.
const MinAdminTokenLength = engine.MinAdminTokenLength

// ErrConfig marks an error in the configuration, as opposed to one met
// while starting (a store that cannot open, a port in use).
var ErrConfig = engine.ErrConfig

func (c *Config) validate() error {
	if err := c.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (c *Config) check() error {
	if len(c.Secrets) == 0 && len(c.Sources) == 0 {
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
	if err := c.TLS.check(c.Store); err != nil {
		return err
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
	if !c.StoreOnly && len(c.Routes) == 0 {
		c.Routes = []dispatch.Route{{Name: "log", Destination: logdest.New(c.Logger)}}
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
// When it fails, nothing it started is left running.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	certs, err := newCerts(cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	eng, err := engine.New(ctx, engineConfig(cfg))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, engine: eng, certs: certs, errc: make(chan error, 3)}
	public := http.NewServeMux()
	if len(cfg.Secrets) > 0 {
		public.Handle(cfg.Path, eng.Receiver()) // the receiver answers 405 to other methods
	}
	for _, ep := range cfg.Sources {
		if ep.Path == cfg.Path && len(cfg.Secrets) > 0 {
			return nil, fmt.Errorf("%w: source %s is at %s, Sent's path: give it another", ErrConfig, ep.Name, ep.Path)
		}
		public.Handle(ep.Path, eng.Receiver()) // the receiver routes by path
	}
	eng.Health(public)
	s.public = &http.Server{
		Handler:           public,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	if certs != nil {
		s.public.TLSConfig = certs.tlsConfig()
		s.public.Protocols = http1Only()
		s.public.ErrorLog = quietHandshakes(cfg.Logger)
		if cfg.TLS.RedirectAddr != "" {
			s.redirect = &http.Server{
				Handler:           certs.redirectHandler(),
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       10 * time.Second,
				WriteTimeout:      10 * time.Second,
				ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
			}
		}
	}
	if h := eng.AdminHandler(); h != nil {
		s.admin = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		}
		s.admin.RegisterOnShutdown(eng.EndStreams)
		switch {
		case certs != nil && cfg.TLS.Admin:
			s.admin.TLSConfig = certs.tlsConfig()
		case certs != nil && !isLoopback(cfg.AdminAddr):
			cfg.Logger.Warn("the admin listener speaks plain HTTP on a network: the admin token crosses it in the clear; add --admin-tls", "admin_addr", cfg.AdminAddr)
		}
	}
	return s, nil
}

// engineConfig is what of cfg the engine takes.
func engineConfig(cfg Config) engine.Config {
	return engine.Config{
		Store: cfg.Store, SQLite: cfg.StoreOptions, Postgres: cfg.PostgresOptions, WaitForStore: true,
		Secrets: cfg.Secrets, Schemes: cfg.Schemes, Tolerance: cfg.Tolerance, SentSource: cfg.SentSource, Endpoints: cfg.Sources,
		MaxBodyBytes: cfg.MaxBodyBytes, MemoryBudgetBytes: cfg.MemoryBudgetBytes, MinBodyRate: cfg.MinBodyRate,
		RejectionBodyMaxBytes: cfg.RejectionBodyMaxBytes, RejectionLimits: cfg.RejectionLimits,
		AnswerWithin: cfg.AnswerWithin, Observe: cfg.Observe,
		Routes: cfg.Routes, StoreOnly: cfg.StoreOnly, Lease: cfg.Lease, Clock: cfg.Clock, OnAttempt: cfg.OnAttempt,
		FailureLogEvery: cfg.FailureLogEvery, Retention: cfg.Retention, RetentionDead: cfg.RetentionDead,
		Admin: cfg.AdminAddr != "off", AdminToken: cfg.AdminToken, AdminSessionTTL: cfg.AdminSessionTTL,
		TracerProvider: cfg.TracerProvider, Logger: cfg.Logger,
	}
}

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.engine.Store() }

// Start binds the listeners and serves in the background. When a listener
// cannot be bound, what New built is closed: Start cannot be tried again.
func (s *Server) Start() error {
	if err := s.listen(); err != nil {
		return errors.Join(err, s.engine.Close())
	}
	if s.admin != nil {
		s.serve(s.admin, s.adminLn)
	}
	if s.redirect != nil {
		s.serve(s.redirect, s.redirectLn)
	}
	s.serve(s.public, s.publicLn)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancelRun, s.runDone = cancel, make(chan struct{})
	go func() { s.engine.Run(ctx); close(s.runDone) }()
	if s.certs != nil {
		s.certs.started(ctx)
	}
	s.cfg.Logger.Info("hooklatch is receiving webhooks",
		"url", s.URL(), "store", storeopen.Redact(s.cfg.Store), "destinations", destinationsText(s.cfg.Routes),
		"dashboard", s.DashboardURL(), "admin", s.AdminAddr())
	if s.cfg.OnStart != nil {
		s.cfg.OnStart(s)
	}
	return nil
}

// listen binds the webhook listener, and the admin listener unless it is
// off; on an error, neither is left bound.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("webhook listener: %w", err)
	}
	if s.admin != nil {
		aln, err := net.Listen("tcp", s.cfg.AdminAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		s.adminLn = aln
	}
	if s.redirect != nil {
		rln, err := net.Listen("tcp", s.cfg.TLS.RedirectAddr)
		if err != nil {
			ln.Close()
			if s.adminLn != nil {
				s.adminLn.Close()
			}
			return fmt.Errorf("HTTP redirect listener: %w", err)
		}
		s.redirectLn = rln
	}
	s.publicLn = ln
	if s.certs != nil {
		s.certs.bound(ln.Addr())
	}
	return nil
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	s.wg.Go(func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "") // the certificates come from TLSConfig
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
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
// (localhost for an unspecified address, the first domain for automatic
// certificates).
func (s *Server) URL() string {
	if s.certs == nil {
		return "http://" + displayAddr(s.publicLn.Addr()) + s.cfg.Path
	}
	host := displayAddr(s.publicLn.Addr())
	if len(s.cfg.TLS.Domains) > 0 {
		host = s.cfg.TLS.Domains[0]
		if _, port, _ := net.SplitHostPort(s.publicLn.Addr().String()); port != "443" {
			host = net.JoinHostPort(host, port)
		}
	}
	return "https://" + host + s.cfg.Path
}

// ReloadCertificate loads the certificate files again (on SIGHUP). When
// the new pair cannot be loaded, the old one is kept and the error
// returned. Certificates from an ACME CA renew by themselves: for them,
// and for plain HTTP, it does nothing.
func (s *Server) ReloadCertificate() error {
	if s.certs == nil {
		return nil
	}
	return s.certs.reload()
}

// DashboardURL is where the dashboard is, as a person would type it, or
// "off" when the admin listener is.
func (s *Server) DashboardURL() string {
	if s.adminLn == nil {
		return "off"
	}
	return "http://" + displayAddr(s.adminLn.Addr()) + "/ui/"
}

// destinationsText names each route's destination for the start-up line:
// its name, kind and target, without secrets, and its filter ("app: http
// https://app.example/hooks?token=xxxxx, filter status == \"FAILED\"").
func destinationsText(routes []dispatch.Route) string {
	if len(routes) == 0 {
		return "none: events are stored, not delivered"
	}
	parts := make([]string, len(routes))
	for i, r := range routes {
		kind, target := destination.Describe(r.Destination)
		parts[i] = r.Name + ": " + kind
		if target != "" {
			// A target is a URL, then words ("redis://h:6379/0 stream
			// events"): only the URL is one to redact, and redacting the
			// whole would escape the spaces.
			u, rest, _ := strings.Cut(target, " ")
			parts[i] += " " + strings.TrimSpace(destination.RedactURL(u)+" "+rest)
		}
		if r.Filter != nil {
			parts[i] += ", filter " + r.Filter.String()
		}
	}
	return strings.Join(parts, "; ")
}

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
	if s.redirect != nil {
		if err := s.redirect.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("HTTP redirect listener: %w", err))
		}
	}
	s.wg.Wait()
	// Deliveries in flight finish and are recorded before the store closes.
	// There is nothing running when the server was never started.
	if s.cancelRun != nil {
		s.cancelRun()
		<-s.runDone
	}
	errs = append(errs, s.engine.Close())
	return errors.Join(errs...)
}
