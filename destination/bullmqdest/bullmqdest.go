package bullmqdest

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
	"github.com/hooklatch/hooklatch/destination/internal/workerpayload"
	"github.com/hooklatch/hooklatch/destination/internal/workerurl"
)

// BullMQVersion is the BullMQ major version whose Redis layout jobs are
// written in; the tests run that version's Worker.
const BullMQVersion = "6"

// Defaults for Config.
const (
	DefaultQueue  = "webhook-processing"
	DefaultPrefix = "bull"
)

// Config configures a Destination.
type Config struct {
	// RedisURL is the Redis server the BullMQ queue lives on:
	// redis://[:password@]host:6379/0, or rediss:// for TLS. The password is
	// never printed.
	//
	// Required.
	RedisURL string

	// Queue is the BullMQ queue name, as in new Worker("…").
	//
	// Defaults to "webhook-processing".
	Queue string

	// Prefix is the queues' key prefix, BullMQ's prefix option.
	//
	// Defaults to "bull", BullMQ's own default.
	Prefix string

	// Attempts is BullMQ's attempts option: how many times the worker may
	// run the job before BullMQ marks it failed. The zero value leaves it to
	// BullMQ: one attempt.
	Attempts int

	// Backoff is BullMQ's backoff option between attempts. The zero value
	// retries at once.
	Backoff Backoff

	// NowFunc is the clock for the job's timestamp. Defaults to time.Now.
	NowFunc func() time.Time
}

// Backoff is BullMQ's built-in backoff: Type "fixed" or "exponential",
// Delay the base delay.
type Backoff struct {
	Type  string
	Delay time.Duration
}

// Destination adds each event to a BullMQ queue as a job. It is safe for
// concurrent use; Close it when done.
type Destination struct {
	cfg    Config
	client *redis.Client
	keys   []string // the queue's keys, KEYS[1..6] of the script
	opts   string   // the job options, as JSON, but for jobId
}

var _ destination.Destination = (*Destination)(nil)

//go:embed addjob.lua
var addJobSource string

var addJob = redis.NewScript(addJobSource)

// New returns a Destination for cfg. It checks cfg but does not connect:
// the first delivery does.
func New(cfg Config) (*Destination, error) {
	cfg, ropts, opts, err := check(cfg)
	if err != nil {
		return nil, err
	}
	q := cfg.Prefix + ":" + cfg.Queue + ":"
	return &Destination{
		cfg:    cfg,
		client: redis.NewClient(ropts),
		keys:   []string{q + "wait", q + "meta", q + "id", q + "active", q + "events", q + "marker"},
		opts:   opts,
	}, nil
}

// check applies cfg's defaults and validates it, returning the Redis
// options and the job options.
func check(cfg Config) (Config, *redis.Options, string, error) {
	if cfg.RedisURL == "" {
		return cfg, nil, "", configError("RedisURL", "a Redis URL is required (redis://host:6379/0)")
	}
	ropts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return cfg, nil, "", configError("RedisURL", "%s", workerurl.RedactMessage(err.Error(), cfg.RedisURL))
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if strings.Contains(cfg.Queue, ":") {
		return cfg, nil, "", configError("Queue", "a BullMQ queue name cannot contain ':': %q", cfg.Queue)
	}
	if cfg.Attempts < 0 {
		return cfg, nil, "", configError("Attempts", "attempts must be 1 or more, not %d", cfg.Attempts)
	}
	opts, err := jobOptions(cfg)
	return cfg, ropts, opts, err
}

// jobOptions are the job's opts field as BullMQ stores them, as a JSON
// object missing its closing brace: Deliver adds the jobId.
func jobOptions(cfg Config) (string, error) {
	opts := map[string]any{"attempts": cfg.Attempts}
	switch cfg.Backoff.Type {
	case "":
		if cfg.Backoff.Delay != 0 {
			return "", configError("Backoff", "a backoff delay needs a type, fixed or exponential")
		}
	case "fixed", "exponential":
		if cfg.Backoff.Delay < 0 {
			return "", configError("Backoff", "the backoff delay cannot be negative: %s", cfg.Backoff.Delay)
		}
		opts["backoff"] = map[string]any{"type": cfg.Backoff.Type, "delay": cfg.Backoff.Delay.Milliseconds()}
	default:
		return "", configError("Backoff", "the backoff type is fixed or exponential, not %q", cfg.Backoff.Type)
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// data is the job's data: what job.data holds in the worker.
type data struct {
	Event     json.RawMessage    `json:"event"`
	Hooklatch workerpayload.Meta `json:"hooklatch"`
	workerpayload.Raw
}

// TraceTarget implements destination.Traced: BullMQ's queue on Redis.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("redis", d.cfg.Queue, d.cfg.RedisURL)
}

// Deliver adds d.Event to the queue as a job named after the event type,
// with JobID(d) as its id, in one script run as BullMQ's own. A job with
// that id already in the queue (a retried delivery whose first add did
// succeed) is a success, and no second job is added.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bullmq: not added: %w", err)
	}
	if dl == nil || dl.Event == nil {
		return destination.Permanent(errors.New("bullmq: no event in the delivery"))
	}
	id, err := JobID(dl)
	if err != nil {
		return destination.Permanent(err)
	}
	body, err := json.Marshal(data{
		Event:     workerpayload.Envelope(dl.Event.Body),
		Hooklatch: workerpayload.MetaOf(dl),
		Raw:       workerpayload.RawOf(dl.Event.Body),
	})
	if err != nil {
		return destination.Permanent(fmt.Errorf("bullmq: building the job: %w", err))
	}
	jobIDJSON, _ := json.Marshal(id)
	opts := d.opts + `,"jobId":` + string(jobIDJSON) + "}"
	name := dl.Event.Type
	if name == "" {
		name = "event"
	}
	keys := append(d.keys[:len(d.keys):len(d.keys)], d.cfg.Prefix+":"+d.cfg.Queue+":"+id)
	added, err := addJob.Run(ctx, d.client, keys, id, name, d.cfg.NowFunc().UnixMilli(), body, opts).Int()
	if err != nil {
		return fmt.Errorf("bullmq: adding job %s to queue %s: %s", id, d.cfg.Queue, workerurl.RedactMessage(err.Error(), d.cfg.RedisURL))
	}
	answer := "job " + id + " added to queue " + d.cfg.Queue
	if added == 0 {
		answer = "job " + id + " was already in queue " + d.cfg.Queue + "; not added again"
	}
	return destination.WithResult(nil, destination.Result{Response: answer})
}

// JobID is the BullMQ job id hooklatch gives an event: the event's ID, the
// same on every attempt, so BullMQ keeps one job per event.
func JobID(dl *destination.Delivery) (string, error) {
	id := dl.Event.ID
	// BullMQ refuses ids that are integers (they clash with its own
	// counter) or contain ':'.
	if _, err := strconv.ParseInt(id, 10, 64); err == nil || id == "" || strings.Contains(id, ":") {
		return "", fmt.Errorf("bullmq: event id %q cannot be a BullMQ job id (empty, an integer, or with ':')", id)
	}
	return id, nil
}

// Close closes the connection to Redis. Each Deliver has its answer
// before it returns, so nothing is outstanding.
func (d *Destination) Close() error { return d.client.Close() }

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "bullmqdest", Field: field, Err: fmt.Errorf(format, args...)}
}
