package natsdest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

const (
	defaultTimeout      = 10 * time.Second
	defaultDedupeWindow = 24 * time.Hour
	defaultMaxInFlight  = 256
	reconnectWait       = 500 * time.Millisecond
)

// Config configures a Destination.
type Config struct {
	// URL is the NATS server, as nats.go reads it:
	// nats://[user:password@]host:4222, tls:// for TLS, or several
	// separated by commas.
	//
	// Required.
	URL string

	// Subject is the subject events are published on. A JetStream stream
	// must take it: Stream names one to create when missing.
	//
	// Required.
	Subject string

	// Stream is the stream that must store the events. When it does not
	// exist, the first delivery creates it, taking Subject, with
	// DedupeWindow as its duplicate window; an existing stream is used as
	// it is. Every publish then expects this stream, so a subject stored by
	// another stream is a permanent failure rather than a message in the
	// wrong place.
	//
	// Defaults to none: whichever stream takes Subject.
	Stream string

	// DedupeWindow is the duplicate window of a stream the destination
	// creates: a retry within it is dropped by JetStream.
	//
	// Defaults to 24h.
	DedupeWindow time.Duration

	// Timeout bounds each attempt, waiting for a connection included. The
	// attempt's context can end it sooner.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the publishes waiting for their acknowledgement
	// at once; more wait their turn.
	//
	// Defaults to 256.
	MaxInFlight int
}

// Destination publishes events to a JetStream stream. It is safe for
// concurrent use; Close it when done.
type Destination struct {
	url, display string
	subject      string
	stream       string
	window       time.Duration
	timeout      time.Duration
	gate         *publish.Gate

	mu      sync.Mutex
	ready   chan struct{} // closed once a connection attempt is done; nil before
	nc      *nats.Conn
	js      jetstream.JetStream
	connErr error
	ensured bool // the stream exists
}

var _ destination.Destination = (*Destination)(nil)

// queryNames are the query parameters ParseURL takes, and the fields they
// fill.
var (
	queryNames  = []string{"subject", "stream", "dedupe_window"}
	queryFields = map[string]string{"subject": "Subject", "stream": "Stream", "dedupe_window": "DedupeWindow"}
)

// ParseURL reads nats://host:4222?subject=NAME[&stream=NAME][&dedupe_window=24h]
// into a Config; the URL without the query goes to nats.go. An unknown
// query parameter is an error.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Config{}, configError("URL", "%w", err)
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(queryNames, k) {
			return Config{}, configError("URL", "unknown query parameter %s: want %s", k, strings.Join(queryNames, ", "))
		}
	}
	cfg := Config{Subject: q.Get("subject"), Stream: q.Get("stream")}
	if v := q.Get("dedupe_window"); v != "" {
		if cfg.DedupeWindow, err = time.ParseDuration(v); err != nil || cfg.DedupeWindow <= 0 {
			return Config{}, configError("DedupeWindow", "%q: want a duration such as 24h", v)
		}
	}
	u.RawQuery = ""
	cfg.URL = u.String()
	return cfg, nil
}

// New validates cfg, applies its defaults and returns a Destination. It does
// not connect: the first delivery does, so a server that is down at start
// is a temporary failure, retried, like any other.
func New(cfg Config) (*Destination, error) {
	switch {
	case strings.TrimSpace(cfg.URL) == "":
		return nil, configError("URL", "required")
	case cfg.Subject == "":
		return nil, configError("Subject", "required: the subject events are published on")
	case strings.ContainsAny(cfg.Subject, " \t\r\n*>"):
		return nil, configError("Subject", "%q: a subject to publish on has no spaces or wildcards", cfg.Subject)
	case strings.ContainsAny(cfg.Stream, " \t\r\n.*>/\\"):
		return nil, configError("Stream", "%q: a stream name has no spaces, dots, slashes or wildcards", cfg.Stream)
	case cfg.DedupeWindow < 0:
		return nil, configError("DedupeWindow", "negative (%s)", cfg.DedupeWindow)
	case cfg.Timeout < 0:
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	case cfg.MaxInFlight < 0:
		return nil, configError("MaxInFlight", "negative (%d)", cfg.MaxInFlight)
	}
	if p := publish.CheckQuery(cfg.URL, queryFields, nil, false); p != nil {
		return nil, configError(p.Field, "%w", p.Err)
	}
	for _, s := range strings.Split(cfg.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return nil, configError("URL", "%q: want nats://host:4222 or tls://host:4222", redacted(s))
		}
	}
	return &Destination{
		url:     cfg.URL,
		display: redacted(cfg.URL),
		subject: cfg.Subject,
		stream:  cfg.Stream,
		window:  cmp.Or(cfg.DedupeWindow, defaultDedupeWindow),
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		gate:    publish.NewGate(cmp.Or(cfg.MaxInFlight, defaultMaxInFlight)),
	}, nil
}

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("nats", d.subject, d.url)
}

// Deliver publishes the event's raw body on the subject, its metadata as
// headers (destination.MetadataNames) and its ID as Nats-Msg-Id, and
// succeeds once the stream acknowledges it. A retry of an event the stream
// holds already is acknowledged as a duplicate and stored once.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("publish on %s: %w", d.subject, err)
	}
	defer end()

	js, err := d.jetStream(ctx)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: d.subject, Data: dl.Event.Body, Header: make(nats.Header, 8)}
	for _, f := range destination.Metadata(dl) {
		msg.Header[f.Name] = []string{f.Value}
	}
	publish.AddTraceParent(dl, func(name, value string) { msg.Header[name] = []string{value} })
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(dl.Event.ID)}
	if d.stream != "" {
		opts = append(opts, jetstream.WithExpectStream(d.stream))
	}
	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return d.judge(ctx, "publish on "+d.subject, err)
	}
	what := fmt.Sprintf("stored in %s as message %d", ack.Stream, ack.Sequence)
	if ack.Duplicate {
		what = fmt.Sprintf("already in %s: JetStream dropped the retry as a duplicate", ack.Stream)
	}
	return destination.WithResult(nil, destination.Result{Response: what})
}

// jetStream returns the connection's JetStream, connecting on first use and
// creating the stream until that has worked once. nats.go reconnects by
// itself, with backoff, and holds publishes made meanwhile in its buffer.
func (d *Destination) jetStream(ctx context.Context) (jetstream.JetStream, error) {
	d.mu.Lock()
	if d.ready == nil {
		d.ready = make(chan struct{})
		go d.connect(d.ready)
	}
	ready := d.ready
	d.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to %s: %w", d.display, context.Cause(ctx))
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if d.connErr != nil {
		err := d.judge(ctx, "connect to "+d.display, d.connErr)
		d.ready, d.connErr = nil, nil // the next delivery tries again
		return nil, err
	}
	if d.stream != "" && !d.ensured {
		if err := d.ensureStream(ctx); err != nil {
			return nil, err
		}
		d.ensured = true
	}
	return d.js, nil
}

// connect dials in the background, so that a server that never answers
// holds up no delivery beyond its context, and closes ready when done.
func (d *Destination) connect(ready chan struct{}) {
	defer close(ready)
	nc, err := nats.Connect(d.url,
		nats.Name("hooklatch"),
		nats.RetryOnFailedConnect(true), // keep trying in the background; publishes wait
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.Timeout(min(d.timeout, 5*time.Second)),
	)
	var js jetstream.JetStream
	if err == nil {
		if js, err = jetstream.New(nc); err != nil {
			nc.Close()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nc, d.js, d.connErr = nc, js, err
}

// ensureStream creates the stream unless it exists.
func (d *Destination) ensureStream(ctx context.Context) error {
	_, err := d.js.Stream(ctx, d.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = d.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: d.stream, Subjects: []string{d.subject}, Duplicates: d.window, Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // created meanwhile by another process
		}
	}
	if err != nil {
		return d.judge(ctx, "create stream "+d.stream, err)
	}
	return nil
}

// judge classifies a failure: what JetStream refused with a 4xx (a subject
// stored by another stream than Config.Stream, a stream that cannot be
// created) and a message larger than the server allows are permanent;
// everything else (no connection, no acknowledgement in time, no stream
// answering yet) is temporary.
func (d *Destination) judge(ctx context.Context, what string, err error) error {
	cause := publish.Explain(ctx, err)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		cause = fmt.Errorf("no stream answered for subject %s: create one that takes it, or give a stream to create (%w)", d.subject, err)
	}
	err = fmt.Errorf("%s on %s: %w", what, d.display, cause)
	var api *jetstream.APIError
	if jse, ok := errors.AsType[jetstream.JetStreamError](err); ok && jse.APIError() != nil {
		api = jse.APIError()
	} else if a, ok := errors.AsType[*jetstream.APIError](err); ok {
		api = a
	}
	switch {
	case api != nil && api.Code >= 400 && api.Code < 500 && api.Code != 408 && api.Code != 429:
		return destination.Permanent(err)
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrBadSubject):
		return destination.Permanent(err)
	}
	return err
}

// Close waits for the publishes in flight to be acknowledged or to give
// up, then closes the connection. Deliver fails after Close. Closing twice
// is harmless.
func (d *Destination) Close() error {
	if !d.gate.Close() {
		return nil
	}
	d.mu.Lock()
	ready := d.ready
	d.mu.Unlock()
	if ready != nil {
		<-ready // a connection attempt ends within its timeout
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nc != nil {
		d.nc.Close()
	}
	return nil
}

func redacted(raw string) string {
	var out []string
	for _, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			out = append(out, "the NATS URL")
			continue
		}
		u.RawQuery = ""
		out = append(out, u.Redacted())
	}
	return strings.Join(out, ",")
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "natsdest", Field: field, Err: fmt.Errorf(format, args...)}
}
