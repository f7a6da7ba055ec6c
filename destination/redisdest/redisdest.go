package redisdest

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

// FieldBody is the stream field that holds the event's raw body. The
// other fields are named by destination.MetadataNames.
const FieldBody = "body"

// SeenKeyPrefix starts the keys that remember which events a stream holds:
// hooklatch:seen:{STREAM}:EVENT_ID. The braces put them in the stream's
// Redis Cluster slot.
const SeenKeyPrefix = "hooklatch:seen:"

const (
	defaultTimeout      = 10 * time.Second
	defaultDedupeWindow = 24 * time.Hour
	defaultMaxInFlight  = 256
)

// Config configures a Destination.
type Config struct {
	// URL is the Redis server, as go-redis reads it:
	// redis://[user:password@]host:6379/DB, rediss:// for TLS, with
	// go-redis's own query options (dial_timeout, pool_size, …).
	//
	// Required.
	URL string

	// Stream is the stream events are appended to.
	//
	// Required.
	Stream string

	// MaxLen trims the stream to about this many entries as it grows
	// (XADD MAXLEN ~). Defaults to 0: every entry is kept.
	MaxLen int64

	// DedupeWindow is how long the stream remembers the events appended, so
	// that a retry within it appends no second entry.
	//
	// Defaults to 24h.
	DedupeWindow time.Duration

	// Timeout bounds each attempt, connecting included. The attempt's
	// context can end it sooner.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the appends waiting for Redis at once; more wait
	// their turn.
	//
	// Defaults to 256.
	MaxInFlight int
}

// Destination appends events to a Redis stream. It is safe for concurrent
// use; Close it when done.
type Destination struct {
	conn
	stream string
	maxLen string
}

var _ destination.Destination = (*Destination)(nil)

// Query parameters ParseURL takes for the Destination itself; any other is
// go-redis's.
var queryFields = map[string]string{"stream": "Stream", "maxlen": "MaxLen", "dedupe_window": "DedupeWindow"}

// ParseURL reads redis://host:6379/0?stream=NAME[&maxlen=N][&dedupe_window=24h]
// into a Config; the rest of the URL, go-redis's query options included,
// is left in Config.URL for go-redis.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Config{}, configError("URL", "%w", err)
	}
	q := u.Query()
	var cfg Config
	cfg.Stream = q.Get("stream")
	if v := q.Get("maxlen"); v != "" {
		if cfg.MaxLen, err = strconv.ParseInt(v, 10, 64); err != nil || cfg.MaxLen < 0 {
			return Config{}, configError("MaxLen", "%q: want a whole number of entries", v)
		}
	}
	if v := q.Get("dedupe_window"); v != "" {
		if cfg.DedupeWindow, err = time.ParseDuration(v); err != nil || cfg.DedupeWindow <= 0 {
			return Config{}, configError("DedupeWindow", "%q: want a duration such as 24h", v)
		}
	}
	for k := range queryFields {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	return cfg, nil
}

// New validates cfg, applies its defaults and returns a Destination. It does
// not connect: the first delivery does, so a Redis that is down at start is
// a temporary failure, retried, like any other.
func New(cfg Config) (*Destination, error) {
	c, err := connect(cfg.URL, queryFields, "want stream, maxlen, dedupe_window", func() error {
		switch {
		case cfg.Stream == "":
			return configError("Stream", "required: the stream events are appended to")
		case cfg.MaxLen < 0:
			return configError("MaxLen", "negative (%d)", cfg.MaxLen)
		}
		return nil
	}, cfg.DedupeWindow, cfg.Timeout, cfg.MaxInFlight)
	if err != nil {
		return nil, err
	}
	return &Destination{conn: c, stream: cfg.Stream, maxLen: strconv.FormatInt(cfg.MaxLen, 10)}, nil
}

// conn is what a stream and a list destination share: the client and the
// bounds of each attempt.
type conn struct {
	client  *redis.Client
	display string // the URL with its password redacted
	window  string // the dedupe window in milliseconds
	timeout time.Duration
	gate    *publish.Gate
}

// connect checks the settings both kinds share, then the kind's own with
// check, and builds their client; own names the kind's query parameters,
// and want lists them for an unknown one. It does not connect: the first delivery does, so a Redis
// that is down at start is a temporary failure, retried, like any other.
func connect(rawURL string, own map[string]string, want string, check func() error, window, timeout time.Duration, maxInFlight int) (conn, error) {
	if strings.TrimSpace(rawURL) == "" {
		return conn{}, configError("URL", "required")
	}
	if p := publish.CheckQuery(rawURL, own, nil, true); p != nil {
		return conn{}, configError(p.Field, "%w", p.Err)
	}
	opts, err := redis.ParseURL(strings.TrimSpace(rawURL))
	if err != nil {
		return conn{}, configError("URL", "%s", urlProblem(err, want))
	}
	if err := check(); err != nil {
		return conn{}, err
	}
	switch {
	case window < 0:
		return conn{}, configError("DedupeWindow", "negative (%s)", window)
	case timeout < 0:
		return conn{}, configError("Timeout", "negative (%s)", timeout)
	case maxInFlight < 0:
		return conn{}, configError("MaxInFlight", "negative (%d)", maxInFlight)
	}
	// Deadlines come from each attempt's context.
	opts.ContextTimeoutEnabled = true
	if opts.PoolSize == 0 { // the URL's pool_size, if any, stands
		opts.PoolSize = min(cmp.Or(maxInFlight, defaultMaxInFlight), 64)
	}
	return conn{
		client:  redis.NewClient(opts),
		display: redactedURL(rawURL),
		window:  strconv.FormatInt(cmp.Or(window, defaultDedupeWindow).Milliseconds(), 10),
		timeout: cmp.Or(timeout, defaultTimeout),
		gate:    publish.NewGate(cmp.Or(maxInFlight, defaultMaxInFlight)),
	}, nil
}

// Close waits for the commands in flight, then closes the connections.
// Deliver fails after Close. Closing twice is harmless.
func (c *conn) Close() error {
	if !c.gate.Close() {
		return nil
	}
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("redisdest: closing %s: %w", c.display, err)
	}
	return nil
}

// appendScript appends an event unless the stream holds it already, in one
// atomic step: a retry after a lost answer finds the seen key and appends
// nothing.
//
// KEYS[1] the stream, KEYS[2] the event's seen key; ARGV[1] the window in
// ms, ARGV[2] MAXLEN (0: none), ARGV[3…] the entry's fields and values.
// It returns {1, id} for an entry appended, {0, id} for one found.
var appendScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[2])
if prev then return {0, prev} end
local id
if ARGV[2] ~= '0' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {1, id}
`)

// TraceTarget implements destination.Traced.
func (d *Destination) TraceTarget() destination.Target {
	return publish.Target("redis", d.stream, d.client.Options().Addr)
}

// Deliver appends the event to the stream: its raw body under FieldBody
// and its metadata under destination.MetadataNames. It succeeds once Redis
// answers that the entry is in the stream, appended now or by an earlier
// attempt.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := d.gate.Begin(ctx, dl, d.timeout)
	if err != nil {
		return fmt.Errorf("XADD %s: %w", d.stream, err)
	}
	defer end()

	meta := destination.Metadata(dl)
	args := make([]any, 0, 4+2*len(meta))
	args = append(args, d.window, d.maxLen, FieldBody, dl.Event.Body)
	for _, f := range meta {
		args = append(args, f.Name, f.Value)
	}
	publish.AddTraceParent(dl, func(name, value string) { args = append(args, name, value) })
	keys := []string{d.stream, SeenKeyPrefix + "{" + d.stream + "}:" + dl.Event.ID}
	res, err := appendScript.Run(ctx, d.client, keys, args...).Slice()
	if err != nil {
		return judge(ctx, "XADD "+d.stream+" on "+d.display, err)
	}
	added, id := parseReply(res)
	if added {
		return destination.WithResult(nil, destination.Result{Response: "appended entry " + id})
	}
	return destination.WithResult(nil, destination.Result{Response: "already in the stream as entry " + id})
}

func parseReply(res []any) (added bool, id string) {
	if len(res) == 2 {
		n, _ := res[0].(int64)
		id, _ = res[1].(string)
		return n == 1, id
	}
	return false, fmt.Sprint(res...)
}

// permanentPrefixes are the Redis errors retrying cannot fix: the key
// holds something other than a stream or a list, or the user may not append to it.
var permanentPrefixes = []string{"WRONGTYPE", "NOPERM", "WRONGPASS", "NOAUTH"}

// judge classifies a failed command, named by op: what Redis refused for
// good is permanent; anything else (no connection, a timeout, OOM,
// LOADING) is temporary.
func judge(ctx context.Context, op string, err error) error {
	err = fmt.Errorf("%s: %w", op, publish.Explain(ctx, err))
	for _, p := range permanentPrefixes {
		if redis.HasErrorPrefix(err, p) {
			return destination.Permanent(err)
		}
	}
	return err
}

// urlProblem rewords go-redis's objections to a URL; want lists the
// kind's own query parameters.
func urlProblem(err error, want string) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "redis: unexpected option: "); ok {
		return "unknown query parameter " + rest + ": " + want + ", or a go-redis option such as dial_timeout or pool_size"
	}
	return strings.TrimPrefix(msg, "redis: ")
}

func redactedURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "the Redis URL"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "redisdest", Field: field, Err: fmt.Errorf(format, args...)}
}
