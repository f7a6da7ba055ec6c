package amqpdest

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

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultMaxInFlight = 256
	defaultContentType = "application/json"

	// Redial backoff after a failed connection: doubled per failure.
	minRedial = 100 * time.Millisecond
	maxRedial = 5 * time.Second
)

// Config configures a Destination.
type Config struct {
	// URL is the broker, as amqp091-go reads it:
	// amqp://user:password@host:5672/vhost, amqps:// for TLS, with
	// amqp091-go's own query options heartbeat, connection_timeout and
	// channel_max.
	//
	// Required.
	URL string

	// Exchange is the exchange events are published to. Defaults to the
	// default exchange (""), which routes by queue name.
	Exchange string

	// RoutingKey routes each message. Defaults to Queue.
	//
	// Required unless Queue is set.
	RoutingKey string

	// ExchangeType, when set, declares Exchange durable with this type
	// (direct, fanout, topic or headers) on each connection. Defaults to
	// none: the exchange must exist.
	ExchangeType string

	// Queue, when set, declares this durable queue on each connection and
	// binds it to Exchange with RoutingKey, so nothing published is
	// unroutable. Defaults to none.
	Queue string

	// Timeout bounds each attempt, connecting included. The attempt's
	// context can end it sooner.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the publishes awaiting the broker's confirmation
	// at once; more wait their turn.
	//
	// Defaults to 256.
	MaxInFlight int
}

// Destination publishes events to a RabbitMQ exchange with publisher
// confirms. It is safe for concurrent use; Close it when done.
type Destination struct {
	url, display string
	exchange     string
	key          string
	kind         string
	queue        string
	timeout      time.Duration
	maxInFlight  int
	gate         *publish.Gate

	mu       sync.Mutex
	cur      *session      // nil when there is none
	dialing  chan struct{} // closed when the dial under way is done
	failures int           // dials failed in a row
	lastErr  error         // of the last dial
	closed   bool
}

var _ destination.Destination = (*Destination)(nil)

// Query parameters: the Destination's own, and those amqp091-go reads.
var (
	ownParams     = []string{"exchange", "routing_key", "exchange_type", "queue"}
	ownFields     = map[string]string{"exchange": "Exchange", "routing_key": "RoutingKey", "exchange_type": "ExchangeType", "queue": "Queue"}
	libraryParams = []string{"heartbeat", "connection_timeout", "channel_max"}
)

// ParseURL reads
// amqp://user:pass@host:5672/vhost?exchange=NAME&routing_key=KEY[&exchange_type=direct][&queue=NAME]
// into a Config; the rest of the URL, amqp091-go's query options included,
// is left in Config.URL. An unknown query parameter is an error.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Config{}, configError("URL", "%w", err)
	}
	if strings.Contains(raw, "#") {
		return Config{}, configError("URL", "%q: # starts a fragment of the URL; write a # in a routing key as %%23", redacted(raw))
	}
	q := u.Query()
	for k := range q {
		if !slices.Contains(ownParams, k) && !slices.Contains(libraryParams, k) {
			return Config{}, configError("URL", "unknown query parameter %s: want %s, or amqp091-go's %s",
				k, strings.Join(ownParams, ", "), strings.Join(libraryParams, ", "))
		}
	}
	cfg := Config{Exchange: q.Get("exchange"), RoutingKey: q.Get("routing_key"), ExchangeType: q.Get("exchange_type"), Queue: q.Get("queue")}
	for _, k := range ownParams {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	return cfg, nil
}

// New validates cfg, applies its defaults and returns a Destination. It does
// not connect: the first delivery does, so a broker that is down at start
// is a temporary failure, retried, like any other.
func New(cfg Config) (*Destination, error) {
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, configError("URL", "required")
	}
	if p := publish.CheckQuery(cfg.URL, ownFields, libraryParams, false); p != nil {
		return nil, configError(p.Field, "%w", p.Err)
	}
	if _, err := amqp.ParseURI(strings.TrimSpace(cfg.URL)); err != nil {
		return nil, configError("URL", "%q: %v", redacted(cfg.URL), err)
	}
	cfg.RoutingKey = cmp.Or(cfg.RoutingKey, cfg.Queue)
	switch {
	case cfg.RoutingKey == "":
		return nil, configError("RoutingKey", "required (or a queue, whose name it then is)")
	case cfg.ExchangeType != "" && !slices.Contains([]string{"direct", "fanout", "topic", "headers"}, cfg.ExchangeType):
		return nil, configError("ExchangeType", "%q: want direct, fanout, topic or headers", cfg.ExchangeType)
	case cfg.ExchangeType != "" && cfg.Exchange == "":
		return nil, configError("ExchangeType", "declares an exchange: give its name too")
	case cfg.Timeout < 0:
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	case cfg.MaxInFlight < 0:
		return nil, configError("MaxInFlight", "negative (%d)", cfg.MaxInFlight)
	}
	return &Destination{
		url:         strings.TrimSpace(cfg.URL),
		display:     redacted(cfg.URL),
		exchange:    cfg.Exchange,
		key:         cfg.RoutingKey,
		kind:        cfg.ExchangeType,
		queue:       cfg.Queue,
		timeout:     cmp.Or(cfg.Timeout, defaultTimeout),
		maxInFlight: cmp.Or(cfg.MaxInFlight, defaultMaxInFlight),
		gate:        publish.NewGate(cmp.Or(cfg.MaxInFlight, defaultMaxInFlight)),
	}, nil
}

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	// The default exchange routes by queue name: the key is where it goes.
	return publish.Target("rabbitmq", cmp.Or(d.exchange, d.key), d.url)
}

// Deliver publishes the event's raw body, persistent and mandatory, with
// its ID as message_id and its metadata as headers
// (destination.MetadataNames), and succeeds once the broker confirms it.
// A message no queue takes is returned by the broker: a permanent failure.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("publish to %s: %w", d.where(), err)
	}
	defer end()

	s, err := d.session(ctx)
	if err != nil {
		return d.judge(ctx, "connect to "+d.display, err)
	}
	ev := dl.Event
	headers := make(amqp.Table, len(destination.MetadataNames))
	for _, f := range destination.Metadata(dl) {
		headers[f.Name] = f.Value
	}
	publish.AddTraceParent(dl, func(name, value string) { headers[name] = value })
	msg := amqp.Publishing{
		Headers:      headers,
		ContentType:  cmp.Or(ev.Headers["content-type"], defaultContentType),
		DeliveryMode: amqp.Persistent,
		MessageId:    ev.ID,
		Timestamp:    ev.ReceivedAt,
		Type:         ev.Type,
		AppId:        "hooklatch",
		Body:         ev.Body,
	}
	wait, err := s.publish(ctx, d.exchange, d.key, msg)
	if err != nil {
		d.drop(s)
		return d.judge(ctx, "publish to "+d.where(), err)
	}
	select {
	case c := <-wait:
		if c.err != nil {
			return d.judge(ctx, "publish to "+d.where(), c.err)
		}
		return destination.WithResult(nil, destination.Result{Response: "confirmed by the broker"})
	case <-ctx.Done():
		return d.judge(ctx, "publish to "+d.where(), ctx.Err())
	}
}

func (d *Destination) where() string {
	return fmt.Sprintf("exchange %q with routing key %q on %s", d.exchange, d.key, d.display)
}

// session returns the connection in use, dialling one when there is none;
// one dial runs at a time, after a backoff that grows with the failures
// before it, and every caller waits for it within its own context.
func (d *Destination) session(ctx context.Context) (*session, error) {
	for {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return nil, publish.ErrClosed
		}
		if d.cur != nil && !d.cur.dead() {
			s := d.cur
			d.mu.Unlock()
			return s, nil
		}
		if d.dialing == nil {
			d.dialing = make(chan struct{})
			go d.dial(d.dialing, d.backoff())
		}
		dialing, failures := d.dialing, d.failures
		d.mu.Unlock()

		select {
		case <-dialing:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
		d.mu.Lock()
		err := d.lastErr
		failed := d.failures > failures
		d.mu.Unlock()
		if failed {
			return nil, err
		}
	}
}

// backoff is how long the next dial waits. Called with d.mu held.
func (d *Destination) backoff() time.Duration {
	if d.failures == 0 {
		return 0
	}
	return min(minRedial<<min(d.failures-1, 16), maxRedial)
}

// dial connects after wait, sets up a session and closes done.
func (d *Destination) dial(done chan struct{}, wait time.Duration) {
	defer close(done)
	time.Sleep(wait)
	s, err := d.open()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dialing = nil
	if err != nil {
		d.failures++
		d.lastErr = err
		return
	}
	if d.closed {
		s.close()
		return
	}
	d.failures, d.lastErr, d.cur = 0, nil, s
}

// open connects, declares what Config asks to, and puts a channel in
// confirm mode.
func (d *Destination) open() (*session, error) {
	dialTimeout := min(d.timeout, 30*time.Second)
	conn, err := amqp.DialConfig(d.url, amqp.Config{
		Dial:       amqp.DefaultDial(dialTimeout),
		Properties: amqp.Table{"connection_name": "hooklatch"},
	})
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		err = d.declare(ch)
	}
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return newSession(conn, ch, d.maxInFlight), nil
}

// declare declares the exchange and queue Config names, if any.
func (d *Destination) declare(ch *amqp.Channel) error {
	if d.kind != "" {
		if err := ch.ExchangeDeclare(d.exchange, d.kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %q: %w", d.exchange, err)
		}
	}
	if d.queue != "" {
		if _, err := ch.QueueDeclare(d.queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare queue %q: %w", d.queue, err)
		}
		if d.exchange != "" {
			if err := ch.QueueBind(d.queue, d.key, d.exchange, false, nil); err != nil {
				return fmt.Errorf("bind queue %q to exchange %q: %w", d.queue, d.exchange, err)
			}
		}
	}
	return nil
}

// drop forgets s, if it is the session in use, and closes it.
func (d *Destination) drop(s *session) {
	d.mu.Lock()
	if d.cur == s {
		d.cur = nil
	}
	d.mu.Unlock()
	s.close()
}

// judge classifies a failure: what the broker refused for good (a message
// no queue takes, an exchange that does not exist, access refused, a
// declaration that conflicts with what exists) is permanent; anything else
// (no connection, a nack, no confirmation in time) is temporary.
func (d *Destination) judge(ctx context.Context, what string, err error) error {
	err = fmt.Errorf("%s: %w", what, publish.Explain(ctx, err))
	if _, ok := errors.AsType[*returnedError](err); ok {
		return destination.Permanent(err)
	}
	if ae, ok := errors.AsType[*amqp.Error](err); ok {
		switch ae.Code {
		case amqp.NotFound, amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed, amqp.CommandInvalid:
			return destination.Permanent(err)
		}
	}
	return err
}

// Close waits for the publishes in flight to be confirmed or to give up,
// then closes the connection. Deliver fails after Close. Closing twice is
// harmless.
func (d *Destination) Close() error {
	if !d.gate.Close() {
		return nil
	}
	d.mu.Lock()
	d.closed = true
	s, dialing := d.cur, d.dialing
	d.cur = nil
	d.mu.Unlock()
	if dialing != nil {
		<-dialing // a dial in progress ends within its timeout, and closes what it opened
	}
	if s != nil {
		return s.close()
	}
	return nil
}

func redacted(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "the AMQP URL"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "amqpdest", Field: field, Err: fmt.Errorf(format, args...)}
}
