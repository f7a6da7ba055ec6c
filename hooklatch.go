// Package hooklatch receives Sent webhooks durably and runs your Go
// handlers on them with retries, a dead-letter state and replay.
//
// Mount the relay's Handler where Sent posts, and Run it:
//
//	relay, err := hooklatch.New(hooklatch.Config{
//		Secrets: []string{os.Getenv("SENT_WEBHOOK_SECRET")},
//		Handlers: []hooklatch.Route{{
//			Name:  "orders",
//			Types: []string{"message.*"},
//			Handler: hooklatch.OnMessage(func(ctx context.Context, ev *hooklatch.Event, m *event.MessageStatus) error {
//				return markOrderMessage(ctx, m.MessageID, m.MessageStatus)
//			}),
//		}},
//	})
//	http.Handle("/webhooks/sent", relay.Handler())
//	go relay.Run(ctx)
//
// The handler answers Sent only once the event is on disk, and your handler
// runs afterwards: an error retries it with backoff, Permanent(err) sends it
// to dead at once, Snooze(d) tries again later without spending an attempt.
//
// # Typed handlers
//
// OnMessage, OnInbound, OnTemplate and OnContact decode the payload for
// you, and their route takes only the event types they decode: above,
// "message.*" gives OnMessage every message status but not
// message.received, an inbound message with another payload (route it to
// OnInbound). A Route whose Types a typed handler cannot decode at all is
// refused by New. A plain Handler gets the Event with its raw Body and
// parsed Envelope; Envelope is nil only for a signed body that is not a
// Sent envelope, which has no Type and so reaches only routes without
// Types.
//
// # Other providers
//
// Config.Sources receives other providers' webhooks (Stripe, GitHub,
// Shopify, Slack, Meta, Twilio, Standard Webhooks, a generic HMAC) beside
// Sent's, each at its own path of the same Handler, with the same
// guarantees. A Route takes the events of its Sources ("sent" for Sent's)
// and, with a Filter, only those whose content passes it, as a
// destination's sources: and filter: do in serve's config file.
//
// # Exactly-once effects
//
// Delivery is at least once. For effects in your own database that must
// happen once, TransactionalMessages (message statuses, decoded) and
// Transactional (any event) run the handler in a transaction of yours that
// also records the event as processed; a retry of a committed event is a
// no-op. TransactionalPgx does the same for an application on pgx.
//
// # Operating it
//
// The relay is the engine `hooklatch serve` runs: the same store (a SQLite
// file, or a postgres:// URL several instances share), retention, and,
// with Config.AdminAddr or Config.Admin, the same admin API (/v1/),
// dashboard (/ui/) and Prometheus metrics (/metrics). The hooklatch
// command reads and repairs its store (events, rejections, replay).
package hooklatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/engine"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// Config configures a Relay.
type Config struct {
	// Secrets are Sent's signing secrets (whsec_…); several while rotating.
	// Required, unless Sources are set: then without secrets the relay
	// receives their webhooks alone.
	Secrets []string
	// Sources are other providers' webhooks the relay receives beside
	// Sent's, each at a path of its own, verified by its provider's rules
	// and stored under its name, with the same guarantees (see Source and
	// docs/sources.md). A Route takes them all unless its Sources say
	// which. Defaults to none: the relay receives Sent's webhooks alone.
	Sources []Source
	// Store is where events are kept: a SQLite file path, or a
	// postgres:// URL for several instances on one database (its schema=
	// parameter names the installation's schema; default "hooklatch").
	// Defaults to StorePath, then "hooklatch.db". The relay opens it, and
	// its Close closes it.
	Store string
	// Backend is a store already opened (store/sqlite or store/postgres),
	// used instead of Store: say where events are kept with one or the
	// other, not both. It stays the caller's: the relay's Close leaves it
	// open, for the caller to close once the relay is closed.
	Backend store.Store
	// StorePath is the SQLite file.
	//
	// Deprecated: use Store, which takes a path too.
	StorePath string
	// Handlers are where events go. Required.
	Handlers []Route
	// Tolerance for v1 timestamps. Defaults to 5 minutes.
	Tolerance time.Duration
	// MaxBodyBytes caps a webhook body. Defaults to 1 MiB.
	MaxBodyBytes int64
	// AnswerWithin bounds how long a webhook waits for the store: an event
	// not confirmed by then is answered 503 and may still be stored (Sent's
	// retry is then a duplicate). Defaults to 4s, inside Sent's 5s.
	AnswerWithin time.Duration
	// MinBodyRate is the slowest a webhook body may arrive, in bytes a
	// second, after a grace of 2s; a slower one is answered 408 and its
	// connection closed. Defaults to 16 KiB/s.
	MinBodyRate int64
	// Retention is how long events whose deliveries are all final are
	// kept, at least 24h; RetentionDead, when set, how long events with a
	// dead delivery are. Default: 30 days, and dead ones forever.
	Retention     time.Duration
	RetentionDead time.Duration

	// AdminAddr, when set, is an address such as "127.0.0.1:3001" where
	// the relay serves what `hooklatch serve` serves on its admin
	// listener: the API (/v1/stats, /v1/events …), the dashboard (/ui/),
	// Prometheus metrics (/metrics), /healthz and /readyz. New binds it;
	// Run serves it. Without AdminToken only requests addressed to a
	// loopback host are answered, so keep it on 127.0.0.1 or set the token.
	AdminAddr string
	// Admin builds the same handler without a listener of its own, for
	// the application to mount at the root of a server or mux of its own
	// (Relay.AdminHandler): its pages link to /ui/ and /v1/. AdminAddr
	// implies it.
	Admin bool
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// (or a dashboard login) by all of the admin but /healthz; at least 16
	// characters.
	AdminToken string

	// TracerProvider, when set, traces the relay as serve traces with the
	// OTEL_* variables (docs/tracing.md): a server span for each webhook,
	// continuing the sender's traceparent, the store append, and a span for
	// each handler call, which the handler's ctx carries. The application
	// owns it and shuts it down. Defaults to none: nothing is traced.
	TracerProvider trace.TracerProvider

	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Source is another provider's webhooks, received by the relay's Handler
// at Path: the config file's sources: entry, in Go. The provider's rules
// (headers, signed content, timestamp tolerance, event id and type) are
// package source's.
type Source struct {
	// Name names the source in the store and in Route.Sources, as
	// "payments". Required, unique, and not Sent's name ("sent").
	Name string
	// Provider is one of source.Providers(): "stripe", "github",
	// "standard-webhooks", "shopify", "slack", "meta", "twilio", "hmac".
	// Required.
	Provider string
	// Path is the URL path the provider posts to, as the request reaches
	// the relay's Handler (mount the Handler where it sees the full path,
	// not under http.StripPrefix). Defaults to "/webhooks/" + Name.
	Path string
	// Secrets are the provider's signing secrets, the newest first while
	// a rotation settles. Required.
	Secrets []string
	// Tolerance is how far a signed timestamp may be from now. Defaults
	// to the provider's (5 minutes for those that sign one).
	Tolerance time.Duration
	// VerifyToken is the verify token of a "meta" source, for its
	// hub.challenge handshake.
	VerifyToken string
	// PublicURL is the URL a "twilio" source's provider posts to, as
	// configured there: Twilio signs it, and behind a proxy it differs
	// from the request's.
	PublicURL string
	// HMAC configures an "hmac" source.
	HMAC source.HMACSettings
}

// Route is one handler, the event types it wants and its retry budget.
type Route struct {
	// Name identifies the handler's deliveries in the store. Required.
	Name string
	// Handler runs each event. Required.
	Handler Handler
	// Types are patterns such as "message.*". Defaults to every type. For
	// a typed handler (OnMessage …) they are narrowed to the types it
	// decodes, and default to those; wrapped in a Handler of yours it is
	// no longer seen as typed, and skips (nil) what it cannot decode.
	Types []string
	// Sources names the sources the handler takes events from: "sent"
	// for Sent's webhooks, or a Config.Sources Name. Defaults to every
	// source the relay receives.
	Sources []string
	// Filter, when set, narrows Types and Sources down to the events whose
	// content passes it: an expression such as
	// `payload.channel == "whatsapp" && status in ["FAILED", "BLOCKED"]`
	// over payload, field, type, subject, status and headers, with the
	// meaning of a destination's filter: in the config file
	// (docs/filters.md). An event it cannot judge (an evaluation error) is
	// delivered. Defaults to none.
	Filter string
	// MaxAttempts before the delivery is dead. Defaults to 15.
	MaxAttempts int
	// Timeout bounds one attempt. Defaults to 30s.
	Timeout time.Duration
	// Concurrency bounds the attempts running at once: set, over every
	// process sharing a PostgreSQL store together (docs/destinations.md).
	// Defaults to 16 in each process.
	Concurrency int
	// Rate bounds how often attempts start, in this process: "50/s" or
	// "600/m", evenly spaced (docs/destinations.md). Defaults to none.
	Rate string
	// Order is how the handler takes the events of one subject (one
	// message, one template): "" (the default) runs them in parallel as
	// they come; "subject" runs them one at a time, in lifecycle order
	// when they are all there, a retry holding back only its subject's
	// later events (docs/ordering.md).
	Order string
}

// Relay is a running receiver and dispatcher over one store, with
// retention and, when asked for, the admin API, dashboard and metrics.
// It is the engine `hooklatch serve` runs, behind the application's own
// HTTP server.
type Relay struct {
	engine  *engine.Engine
	adminLn net.Listener // nil unless Config.AdminAddr
}

// New opens the store and builds the receiver, the dispatcher, retention
// and the admin. When it fails, nothing it opened is left open.
func New(cfg Config) (*Relay, error) {
	ecfg, err := engineConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("hooklatch: %w", err)
	}
	eng, err := engine.New(context.Background(), ecfg)
	if err != nil {
		return nil, fmt.Errorf("hooklatch: %w", err)
	}
	r := &Relay{engine: eng}
	if cfg.AdminAddr != "" {
		if r.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			return nil, errors.Join(fmt.Errorf("hooklatch: admin listener: %w", err), eng.Close())
		}
	}
	return r, nil
}

// engineConfig checks cfg and says what of it the engine takes.
func engineConfig(cfg Config) (engine.Config, error) {
	if len(cfg.Handlers) == 0 {
		return engine.Config{}, errors.New("Config.Handlers is required")
	}
	var secrets []signature.Secret
	for _, s := range cfg.Secrets {
		parsed, err := signature.ParseSecrets(s)
		if err != nil {
			return engine.Config{}, err
		}
		secrets = append(secrets, parsed...)
	}
	if len(secrets) == 0 && len(cfg.Sources) == 0 {
		return engine.Config{}, errors.New("Config.Secrets is required (the whsec_… value from Sent's dashboard)")
	}
	endpoints, err := sourceEndpoints(cfg.Sources)
	if err != nil {
		return engine.Config{}, err
	}
	if cfg.Store == "" {
		cfg.Store = cfg.StorePath
	}
	if cfg.Backend != nil && cfg.Store != "" {
		return engine.Config{}, errors.New("Config.Store and Config.Backend both say where events are kept: set one")
	}
	if n := utf8.RuneCountInString(cfg.AdminToken); n > 0 && n < engine.MinAdminTokenLength {
		return engine.Config{}, fmt.Errorf("Config.AdminToken has %d characters: use at least %d", n, engine.MinAdminTokenLength)
	}
	if err := retention.Check(cfg.Retention, cfg.RetentionDead); err != nil {
		return engine.Config{}, err
	}
	known := map[string]bool{}
	if len(secrets) > 0 {
		known[sentSource] = true
	}
	for _, ep := range endpoints {
		known[ep.Name] = true
	}
	routes, err := dispatchRoutes(cfg.Handlers, known)
	if err != nil {
		return engine.Config{}, err
	}
	return engine.Config{
		Store: cfg.Store, Backend: cfg.Backend, Endpoints: endpoints,
		Secrets: secrets, Tolerance: cfg.Tolerance, MaxBodyBytes: cfg.MaxBodyBytes,
		AnswerWithin: cfg.AnswerWithin, MinBodyRate: cfg.MinBodyRate,
		Routes: routes, Retention: cfg.Retention, RetentionDead: cfg.RetentionDead,
		Admin: cfg.Admin || cfg.AdminAddr != "", AdminToken: cfg.AdminToken,
		TracerProvider: cfg.TracerProvider, Logger: cfg.Logger,
	}, nil
}

// sentSource is the name of Sent's source in the store.
const sentSource = "sent"

// sourceEndpoints are the sources as the receiver's endpoints.
func sourceEndpoints(sources []Source) ([]receiver.Endpoint, error) {
	var eps []receiver.Endpoint
	for _, s := range sources {
		switch {
		case s.Name == sentSource || s.Provider == sentSource:
			return nil, fmt.Errorf("source %q: Sent's webhooks are Config.Secrets' source, %q, at any path no other source has", s.Name, sentSource)
		case s.Path == "":
			s.Path = "/webhooks/" + s.Name
		}
		src, err := source.New(source.Settings{
			Name: s.Name, Provider: s.Provider, Secrets: s.Secrets, Tolerance: s.Tolerance,
			VerifyToken: s.VerifyToken, PublicURL: s.PublicURL, HMAC: s.HMAC,
		})
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", s.Name, err)
		}
		for _, ep := range eps {
			if ep.Name == s.Name || ep.Path == s.Path {
				return nil, fmt.Errorf("source %q: source %q has that name or path (%s) already", s.Name, ep.Name, s.Path)
			}
		}
		eps = append(eps, receiver.Endpoint{Name: s.Name, Path: s.Path, Source: src})
	}
	return eps, nil
}

// dispatchRoutes are the handlers as the dispatcher's routes. A typed
// handler's route takes only the types it decodes (see Route.Types). A
// route's Sources must be among those known.
func dispatchRoutes(handlers []Route, known map[string]bool) ([]dispatch.Route, error) {
	routes := make([]dispatch.Route, len(handlers))
	for i, h := range handlers {
		if h.Handler == nil {
			return nil, fmt.Errorf("handler %q has no Handler", h.Name)
		}
		types, err := routeTypes(h)
		if err != nil {
			return nil, err
		}
		rate, err := dispatch.ParseRate(h.Rate)
		if err != nil {
			return nil, fmt.Errorf("handler %q: %w", h.Name, err)
		}
		for _, s := range h.Sources {
			if !known[s] {
				return nil, fmt.Errorf("handler %q: Sources: %q is not a source the relay receives (%s)", h.Name, s, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			}
		}
		var f *filter.Filter
		if h.Filter != "" {
			if f, err = filter.Compile(h.Filter); err != nil {
				return nil, fmt.Errorf("handler %q: Filter: %w", h.Name, err)
			}
		}
		routes[i] = dispatch.Route{
			Name:        h.Name,
			Types:       types,
			Sources:     h.Sources,
			Filter:      f,
			Destination: adapt(h.Handler),
			Policy:      dispatch.Policy{MaxAttempts: h.MaxAttempts, Timeout: h.Timeout, Concurrency: h.Concurrency, Rate: rate},
			Order:       h.Order,
		}
	}
	return routes, nil
}

// Handler is the http.Handler to mount where Sent posts webhooks, and
// where each of Config.Sources' providers posts (its Path): a request to a
// source's Path is that source's, any other Sent's.
func (r *Relay) Handler() http.Handler { return r.engine.Receiver() }

// AdminHandler serves the admin API (/v1/), the dashboard (/ui/), the
// metrics (/metrics), /healthz and /readyz; nil unless Config.Admin or
// Config.AdminAddr is set. Mount it at the root of a server or mux of its
// own. The dashboard's live numbers are sampled while Run runs.
func (r *Relay) AdminHandler() http.Handler { return r.engine.AdminHandler() }

// AdminAddr is the address the admin listener is bound to (useful when
// Config.AdminAddr asked for port 0), or "" without one.
func (r *Relay) AdminAddr() string {
	if r.adminLn == nil {
		return ""
	}
	return r.adminLn.Addr().String()
}

// Store is the relay's store, for inspection (events, deliveries, attempts).
func (r *Relay) Store() store.Store { return r.engine.Store() }

// Run dispatches deliveries to the handlers, prunes by the retention and
// serves the admin listener, if any, until ctx is done; then it lets the
// attempts in flight finish and stops the admin listener.
func (r *Relay) Run(ctx context.Context) error {
	if r.adminLn == nil {
		return r.engine.Run(ctx)
	}
	srv := &http.Server{Handler: r.engine.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(r.engine.EndStreams)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(r.adminLn) }()
	err := r.engine.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); serr != nil {
		err = errors.Join(err, fmt.Errorf("admin listener: %w", serr))
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("admin listener: %w", serr))
	}
	return err
}

// Close stops the receiver and closes the store it opened (a
// Config.Backend is left open), and the admin listener if Run never
// served it. Call it after Run has returned and the HTTP server has
// stopped.
func (r *Relay) Close() error {
	var errs []error
	if r.adminLn != nil {
		if err := r.adminLn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, r.engine.Close())...)
}

// Event is what a handler receives.
type Event struct {
	ID string
	// Source names where the event came from: "sent", or a
	// Config.Sources Name.
	Source     string
	Type       string // canonical: "message.delivered"
	Subject    string // message, template or contact id
	Attempt    int    // 1 on the first try
	DeliveryID int64  // this event to this handler, across attempts
	ReceivedAt time.Time
	// Body is the raw webhook body, exactly as Sent sent it.
	Body []byte
	// Envelope is the parsed body. It is nil only for a signed body that
	// is not a Sent envelope (not JSON, or without "field"): Sent never
	// sends one, but a correctly signed one is stored all the same, marked
	// for attention. Such an event has no Type, so only a route without
	// Types receives it; a typed handler (OnMessage …) never does.
	Envelope *event.Envelope

	stale  bool
	latest string
}

// Stale reports whether a later state of the event's subject had already
// been received when the event was handed to the handler: a message's
// SENT that arrives after its DELIVERED (Sent retried it) is stale, and an
// app that keeps each message's status drops it with one if:
//
//	if ev.Stale() {
//		return nil // a later status is already applied, or on its way
//	}
//
// Later follows Sent's lifecycle, then the envelope's timestamp, then
// receipt (docs/ordering.md). It is decided when the delivery is claimed,
// each attempt anew: a retry of an event can become stale. Not stale is not
// last: two deliveries of one subject running at once can still finish in
// either order, so an app that must never go back also makes its write
// conditional (event.StatusRank). False for an event with no subject.
func (ev *Event) Stale() bool { return ev.stale }

// Latest is the status of the event's subject's latest state when the event
// was handed to the handler: the event's own status when it is the latest,
// the later one that makes it stale otherwise ("DELIVERED", "READ" …).
// Empty for an event with no subject.
func (ev *Event) Latest() string { return ev.latest }

// Handler runs events. Its error decides what happens next: nil is done,
// Permanent(err) is dead at once, Snooze(d) tries again after d without
// spending an attempt, any other error retries with backoff.
type Handler interface {
	HandleEvent(ctx context.Context, ev *Event) error
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(ctx context.Context, ev *Event) error

// HandleEvent implements Handler.
func (f HandlerFunc) HandleEvent(ctx context.Context, ev *Event) error { return f(ctx, ev) }

// Permanent marks err as a failure retrying cannot fix: the delivery is dead at once.
func Permanent(err error) error { return destination.Permanent(err) }

// Snooze asks for another attempt after d, without spending an attempt.
func Snooze(d time.Duration) error { return destination.Snooze(d) }

func adapt(h Handler) destination.Destination {
	return destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		ev := &Event{
			ID: d.Event.ID, Source: d.Event.Source, Type: d.Event.Type, Subject: d.Event.Subject, Attempt: d.Attempt, DeliveryID: d.ID,
			ReceivedAt: d.Event.ReceivedAt, Body: d.Event.Body, stale: d.Stale, latest: d.SubjectStatus,
		}
		if env, err := event.Parse(d.Event.Body); err == nil {
			ev.Envelope = env
		}
		return h.HandleEvent(ctx, ev)
	})
}
