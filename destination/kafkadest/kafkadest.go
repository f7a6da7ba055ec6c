package kafkadest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultMaxInFlight = 256
)

// Config configures a Destination.
type Config struct {
	// URL names the seed brokers: kafka://host:9092, or several,
	// kafka://host1:9092,host2:9092. The client learns the rest of the
	// cluster from them.
	//
	// Required.
	URL string

	// Topic is the topic events are produced to. It must exist, unless
	// the cluster creates topics on first use.
	//
	// Required.
	Topic string

	// Timeout bounds each attempt. The attempt's context can end it sooner.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the records produced and not yet acknowledged at
	// once; more wait their turn.
	//
	// Defaults to 256.
	MaxInFlight int
}

// Destination produces events to a Kafka topic with acks=all and the
// idempotent producer. It is safe for concurrent use; Close it when done.
type Destination struct {
	seeds   []string
	display string
	topic   string
	timeout time.Duration
	opts    []kgo.Opt
	gate    *publish.Gate

	mu     sync.Mutex
	client *kgo.Client // nil until the first delivery
}

var _ destination.Destination = (*Destination)(nil)

// ParseURL reads kafka://host:9092[,host:9092…]?topic=NAME into a Config.
// An unknown query parameter is an error.
func ParseURL(raw string) (Config, error) {
	base, query, _ := strings.Cut(strings.TrimSpace(raw), "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, configError("URL", "%w", err)
	}
	for k := range q {
		if k != "topic" {
			return Config{}, configError("URL", "unknown query parameter %s: want topic", k)
		}
	}
	return Config{URL: base, Topic: q.Get("topic")}, nil
}

// New validates cfg, applies its defaults and returns a Destination. It does
// not connect: the first delivery does, so a cluster that is down at start
// is a temporary failure, retried, like any other.
func New(cfg Config) (*Destination, error) {
	if p := publish.CheckQuery(cfg.URL, map[string]string{"topic": "Topic"}, nil, false); p != nil {
		return nil, configError(p.Field, "%w", p.Err)
	}
	seeds, err := parseSeeds(cfg.URL)
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.Topic == "":
		return nil, configError("Topic", "required: the topic events are produced to")
	case !validTopic(cfg.Topic):
		return nil, configError("Topic", "%q: a topic name is up to 249 letters, digits, '.', '_' or '-'", cfg.Topic)
	case cfg.Timeout < 0:
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	case cfg.MaxInFlight < 0:
		return nil, configError("MaxInFlight", "negative (%d)", cfg.MaxInFlight)
	}
	maxInFlight := cmp.Or(cfg.MaxInFlight, defaultMaxInFlight)
	d := &Destination{
		seeds:   seeds,
		display: "kafka://" + strings.Join(seeds, ","),
		topic:   cfg.Topic,
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		gate:    publish.NewGate(maxInFlight),
	}
	d.opts = []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("hooklatch"),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), // with the idempotent producer, franz-go's default
		kgo.MaxBufferedRecords(maxInFlight),
		// Each delivery waits for its record: lingering to fill batches
		// would add its whole length to every one. Batches still form
		// while a request is in flight.
		kgo.ProducerLinger(0),
	}
	return d, nil
}

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("kafka", d.topic, strings.Join(d.seeds, ","))
}

// Deliver produces the event's raw body as the record's value, keyed by
// the event's subject (the message or template it is about, so that one
// message's statuses stay in order on one partition; the event's ID when
// there is none), with its metadata as headers
// (destination.MetadataNames). It succeeds once every in-sync replica has
// the record.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("produce to %s: %w", d.topic, err)
	}
	defer end()

	client, err := d.connect()
	if err != nil {
		return d.judge(ctx, err)
	}
	ev := dl.Event
	meta := destination.Metadata(dl)
	rec := &kgo.Record{
		Topic:   d.topic,
		Key:     []byte(cmp.Or(ev.Subject, ev.ID)),
		Value:   ev.Body,
		Headers: make([]kgo.RecordHeader, 0, len(meta)),
	}
	for _, f := range meta {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: f.Name, Value: []byte(f.Value)})
	}
	publish.AddTraceParent(dl, func(name, value string) {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: name, Value: []byte(value)})
	})
	done := make(chan error, 1) // the callback never waits
	client.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			return d.judge(ctx, err)
		}
		return destination.WithResult(nil, destination.Result{Response: fmt.Sprintf("stored in partition %d at offset %d", rec.Partition, rec.Offset)})
	case <-ctx.Done():
		// The record may still be produced: at least once.
		return d.judge(ctx, ctx.Err())
	}
}

// connect returns the client, making it on first use. franz-go connects to
// brokers as it needs them and retries, with backoff, until a record's
// context ends.
func (d *Destination) connect() (*kgo.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client == nil {
		c, err := kgo.NewClient(d.opts...)
		if err != nil {
			return nil, err
		}
		d.client = c
	}
	return d.client, nil
}

// judge classifies a failure: what the cluster refused for good (a record
// too large, a topic it does not allow, authorization) is permanent;
// anything else (no broker reachable, no acknowledgement in time, a
// leader moving) is temporary.
func (d *Destination) judge(ctx context.Context, err error) error {
	err = fmt.Errorf("produce to %s on %s: %w", d.topic, d.display, publish.Explain(ctx, err))
	if ke, ok := errors.AsType[*kerr.Error](err); ok && !ke.Retriable {
		return destination.Permanent(err)
	}
	return err
}

// Close waits for the deliveries in flight, lets records still buffered
// finish within Config.Timeout, and closes the client. Deliver fails after
// Close. Closing twice is harmless.
func (d *Destination) Close() error {
	if !d.gate.Close() {
		return nil
	}
	d.mu.Lock()
	c := d.client
	d.mu.Unlock()
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	err := c.Flush(ctx)
	c.Close()
	if err != nil {
		return fmt.Errorf("kafkadest: records still unacknowledged at close: %w", err)
	}
	return nil
}

func parseSeeds(raw string) ([]string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(raw), "kafka://")
	if strings.TrimSpace(raw) == "" {
		return nil, configError("URL", "required")
	}
	if !ok {
		return nil, configError("URL", "%q: want kafka://host:9092", raw)
	}
	rest, _, _ = strings.Cut(rest, "?")
	rest = strings.TrimSuffix(rest, "/")
	var seeds []string
	for _, s := range strings.Split(rest, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(s))
		if err != nil || host == "" || port == "" {
			return nil, configError("URL", "%q: want host:port for each broker", s)
		}
		seeds = append(seeds, net.JoinHostPort(host, port))
	}
	return seeds, nil
}

func validTopic(t string) bool {
	if len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "kafkadest", Field: field, Err: fmt.Errorf(format, args...)}
}
