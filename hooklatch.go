// Package hooklatch receives Sent webhooks durably and runs your Go
// handlers on them with retries, a dead-letter state and replay.
//
// Mount the relay's Handler where Sent posts, and Run its dispatcher:
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
package hooklatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Config configures a Relay.
type Config struct {
	// Secrets are Sent's signing secrets (whsec_…); several while rotating.
	// Required.
	Secrets []string
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
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Route is one handler, the event types it wants and its retry budget.
type Route struct {
	// Name identifies the handler's deliveries in the store. Required.
	Name string
	// Handler runs each event. Required.
	Handler Handler
	// Types are patterns such as "message.*". Defaults to every type.
	Types []string
	// MaxAttempts before the delivery is dead. Defaults to 15.
	MaxAttempts int
	// Timeout bounds one attempt. Defaults to 30s.
	Timeout time.Duration
	// Concurrency bounds the attempts running at once. Defaults to 16.
	Concurrency int
}

// Relay is a running receiver and dispatcher over one store.
type Relay struct {
	store    store.Store
	owned    bool // the relay opened store, and closes it
	receiver *receiver.Receiver
	dispatch *dispatch.Dispatcher
}

// New opens the store and builds the receiver and the dispatcher.
func New(cfg Config) (*Relay, error) {
	if len(cfg.Handlers) == 0 {
		return nil, errors.New("hooklatch: Config.Handlers is required")
	}
	var secrets []signature.Secret
	for _, s := range cfg.Secrets {
		parsed, err := signature.ParseSecrets(s)
		if err != nil {
			return nil, fmt.Errorf("hooklatch: %w", err)
		}
		secrets = append(secrets, parsed...)
	}
	if len(secrets) == 0 {
		return nil, errors.New("hooklatch: Config.Secrets is required (the whsec_… value from Sent's dashboard)")
	}
	if cfg.Store == "" {
		cfg.Store = cfg.StorePath
	}
	if cfg.Backend != nil && cfg.Store != "" {
		return nil, errors.New("hooklatch: Config.Store and Config.Backend both say where events are kept: set one")
	}
	if cfg.Store == "" {
		cfg.Store = "hooklatch.db"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	verifier, err := signature.NewVerifier(signature.Config{Secrets: secrets, Tolerance: cfg.Tolerance})
	if err != nil {
		return nil, fmt.Errorf("hooklatch: %w", err)
	}

	routes := make([]dispatch.Route, len(cfg.Handlers))
	for i, h := range cfg.Handlers {
		if h.Handler == nil {
			return nil, fmt.Errorf("hooklatch: handler %q has no Handler", h.Name)
		}
		routes[i] = dispatch.Route{
			Name:        h.Name,
			Types:       h.Types,
			Destination: adapt(h.Handler),
			Policy:      dispatch.Policy{MaxAttempts: h.MaxAttempts, Timeout: h.Timeout, Concurrency: h.Concurrency},
		}
	}
	r := &Relay{store: cfg.Backend}
	if r.store == nil {
		st, err := openStore(cfg.Store, cfg.Logger)
		if err != nil {
			return nil, fmt.Errorf("hooklatch: %w", err)
		}
		r.store, r.owned = st, true
	}
	if err := r.build(cfg, verifier, secrets, routes); err != nil {
		r.closeStore()
		return nil, fmt.Errorf("hooklatch: %w", err)
	}
	return r, nil
}

// build makes the dispatcher and the receiver over r.store.
func (r *Relay) build(cfg Config, verifier *signature.Verifier, secrets []signature.Secret, routes []dispatch.Route) error {
	st := r.store
	disp, err := dispatch.New(dispatch.Config{Store: st, Routes: routes, Logger: cfg.Logger})
	if err != nil {
		return err
	}
	if err := dispatch.RecordRoutes(context.Background(), st, routes); err != nil {
		return err
	}
	rcv, err := receiver.New(receiver.Config{
		Store: st, Verifier: verifier, Secrets: secrets, Tolerance: cfg.Tolerance, MaxBodyBytes: cfg.MaxBodyBytes,
		AnswerWithin: cfg.AnswerWithin, MinBodyRate: cfg.MinBodyRate,
		RouteFunc: disp.Destinations,
		OnAccept:  func(store.AppendResult) { disp.Notify() },
		Logger:    cfg.Logger,
	})
	if err != nil {
		return err
	}
	r.receiver, r.dispatch = rcv, disp
	return nil
}

// closeStore closes the store if the relay opened it.
func (r *Relay) closeStore() error {
	if !r.owned {
		return nil
	}
	return r.store.Close()
}

// openStore opens a PostgreSQL store several relays may share, or a
// SQLite file this relay owns.
func openStore(location string, logger *slog.Logger) (store.Store, error) {
	if postgres.IsURL(location) {
		return postgres.Open(context.Background(), location, postgres.Options{Logger: logger})
	}
	return sqlite.Open(context.Background(), location, sqlite.Options{Logger: logger, Exclusive: true})
}

// Handler is the http.Handler to mount where Sent posts webhooks.
func (r *Relay) Handler() http.Handler { return r.receiver }

// Store is the relay's store, for inspection (events, deliveries, attempts).
func (r *Relay) Store() store.Store { return r.store }

// Run dispatches deliveries to the handlers until ctx is done, then lets
// the attempts in flight finish.
func (r *Relay) Run(ctx context.Context) error { return r.dispatch.Run(ctx) }

// Close stops the receiver and closes the store it opened (a
// Config.Backend is left open). Call it after Run has returned and the
// HTTP server has stopped.
func (r *Relay) Close() error {
	return errors.Join(r.receiver.Close(), r.closeStore())
}

// Event is what a handler receives.
type Event struct {
	ID         string
	Type       string // canonical: "message.delivered"
	Subject    string // message, template or contact id
	Attempt    int    // 1 on the first try
	DeliveryID int64  // this event to this handler, across attempts
	ReceivedAt time.Time
	// Body is the raw webhook body, exactly as Sent sent it.
	Body []byte
	// Envelope is the parsed body; nil when it did not parse.
	Envelope *event.Envelope
}

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
			ID: d.Event.ID, Type: d.Event.Type, Subject: d.Event.Subject, Attempt: d.Attempt, DeliveryID: d.ID,
			ReceivedAt: d.Event.ReceivedAt, Body: d.Event.Body,
		}
		if env, err := event.Parse(d.Event.Body); err == nil {
			ev.Envelope = env
		}
		return h.HandleEvent(ctx, ev)
	})
}

// typed builds a Handler for one family's payload; events of other
// families are skipped (nil), so a typed handler can sit on every type.
func typed[P any](family string, get func(*event.Envelope) (P, error), fn func(context.Context, *Event, P) error) Handler {
	return HandlerFunc(func(ctx context.Context, ev *Event) error {
		if ev.Envelope == nil || ev.Envelope.Family() != family {
			return nil
		}
		p, err := get(ev.Envelope)
		if errors.Is(err, event.ErrWrongType) {
			return nil
		}
		if err != nil {
			return Permanent(fmt.Errorf("event %s: %w", ev.ID, err))
		}
		return fn(ctx, ev, p)
	})
}

// OnMessage runs fn on outbound message status events (queued … read,
// failed); other events are skipped.
func OnMessage(fn func(ctx context.Context, ev *Event, m *event.MessageStatus) error) Handler {
	return typed(event.FamilyMessage, (*event.Envelope).Message, fn)
}

// OnInbound runs fn on inbound messages (message.received).
func OnInbound(fn func(ctx context.Context, ev *Event, m *event.InboundMessage) error) Handler {
	return typed(event.FamilyMessage, (*event.Envelope).Inbound, fn)
}

// OnTemplate runs fn on template status events.
func OnTemplate(fn func(ctx context.Context, ev *Event, t *event.Template) error) Handler {
	return typed(event.FamilyTemplate, (*event.Envelope).Template, fn)
}

// OnContact runs fn on contact events (opt-in, opt-out, help).
func OnContact(fn func(ctx context.Context, ev *Event, c *event.Contact) error) Handler {
	return typed(event.FamilyContact, (*event.Envelope).Contact, fn)
}
