package redisdest

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/internal/publish"
)

// PushedKeyPrefix starts the keys that remember which events a list was
// given: hooklatch:pushed:{LIST}:EVENT_ID. The braces put them in the
// list's Redis Cluster slot.
const PushedKeyPrefix = "hooklatch:pushed:"

// Ends of a list a ListConfig pushes to.
const (
	PushLeft  = "lpush" // LPUSH: the head, for workers that BRPOP (the default)
	PushRight = "rpush" // RPUSH: the tail, for workers that BLPOP
)

// ListConfig configures a List.
type ListConfig struct {
	// URL is the Redis server, as go-redis reads it:
	// redis://[user:password@]host:6379/DB, rediss:// for TLS, with
	// go-redis's own query options. ParseListURL reads the
	// redis+list:// form into it.
	//
	// Required.
	URL string

	// Key is the list events are pushed to, such as webhook-processing.
	//
	// Required.
	Key string

	// Push is PushLeft or PushRight. With LPUSH a worker that BRPOPs takes
	// the events in the order they were pushed, as the worker in Sent's
	// guide does.
	//
	// Defaults to PushLeft.
	Push string

	// DedupeWindow is how long the list remembers the events pushed, so
	// that a retry within it pushes no second item.
	//
	// Defaults to 24h.
	DedupeWindow time.Duration

	// Timeout bounds each attempt, connecting included.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// MaxInFlight bounds the pushes waiting for Redis at once.
	//
	// Defaults to 256.
	MaxInFlight int
}

// List pushes each event's raw body onto a Redis list, for a worker that
// pops it (BRPOP or BLPOP) and decodes the JSON itself. It is safe for
// concurrent use; Close it when done.
type List struct {
	conn
	key  string
	push string // LPUSH or RPUSH
}

var _ destination.Destination = (*List)(nil)

// listFields are the query parameters ParseListURL takes for the List
// itself; any other is go-redis's.
var listFields = map[string]string{"key": "Key", "push": "Push", "dedupe_window": "DedupeWindow"}

// ParseListURL reads
// redis+list://host:6379/0?key=NAME[&push=lpush|rpush][&dedupe_window=24h]
// (rediss+list:// for TLS) into a ListConfig.
func ParseListURL(raw string) (ListConfig, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return ListConfig{}, configError("URL", "%w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "redis+list":
		u.Scheme = "redis"
	case "rediss+list":
		u.Scheme = "rediss"
	default:
		return ListConfig{}, configError("URL", "a Redis list looks like redis+list://host:6379/0?key=NAME, not %s://", u.Scheme)
	}
	q := u.Query()
	cfg := ListConfig{Key: q.Get("key"), Push: strings.ToLower(q.Get("push"))}
	if v := q.Get("dedupe_window"); v != "" {
		if cfg.DedupeWindow, err = time.ParseDuration(v); err != nil || cfg.DedupeWindow <= 0 {
			return ListConfig{}, configError("DedupeWindow", "%q: want a duration such as 24h", v)
		}
	}
	for k := range listFields {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	return cfg, nil
}

// NewList validates cfg, applies its defaults and returns a List. It does
// not connect: the first delivery does.
func NewList(cfg ListConfig) (*List, error) {
	push := cmp.Or(cfg.Push, PushLeft)
	c, err := connect(cfg.URL, listFields, "want key, push, dedupe_window", func() error {
		switch {
		case cfg.Key == "":
			return configError("Key", "required: the list events are pushed to, such as webhook-processing")
		case push != PushLeft && push != PushRight:
			return configError("Push", "%q: want %s or %s", cfg.Push, PushLeft, PushRight)
		}
		return nil
	}, cfg.DedupeWindow, cfg.Timeout, cfg.MaxInFlight)
	if err != nil {
		return nil, err
	}
	return &List{conn: c, key: cfg.Key, push: strings.ToUpper(push)}, nil
}

// pushScript pushes an event unless the list was given it already, in one
// atomic step, so that a retry after a lost answer pushes nothing.
//
// KEYS[1] the list, KEYS[2] the event's pushed key; ARGV[1] the window in
// ms, ARGV[2] LPUSH or RPUSH, ARGV[3] the body. It returns {1, length} for
// an item pushed, {0, length then} for one found.
var pushScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[2])
if prev then return {0, tonumber(prev)} end
local n = redis.call(ARGV[2], KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], n, 'PX', ARGV[1])
return {1, n}
`)

// TraceTarget implements destination.Traced.
func (l *List) TraceTarget() destination.Target {
	return publish.Target("redis", l.key, l.client.Options().Addr)
}

// Deliver pushes the event's raw body onto the list. It succeeds once Redis
// answers that the item is in the list, pushed now or by an earlier
// attempt within the window.
func (l *List) Deliver(ctx context.Context, dl *destination.Delivery) error {
	ctx, end, err := l.gate.Begin(ctx, dl, l.timeout)
	if err != nil {
		return fmt.Errorf("%s %s: %w", l.push, l.key, err)
	}
	defer end()
	keys := []string{l.key, PushedKeyPrefix + "{" + l.key + "}:" + dl.Event.ID}
	res, err := pushScript.Run(ctx, l.client, keys, l.window, l.push, dl.Event.Body).Slice()
	if err != nil {
		return judge(ctx, fmt.Sprintf("%s %s on %s", l.push, l.key, l.display), err)
	}
	if len(res) == 2 {
		if n, _ := res[0].(int64); n == 1 {
			return destination.WithResult(nil, destination.Result{Response: fmt.Sprintf("pushed; the list holds %v", res[1])})
		}
	}
	return destination.WithResult(nil, destination.Result{Response: "already pushed by an earlier attempt"})
}

// Describe implements destination.Describer.
func (l *List) Describe() (kind, target string) {
	return ListKind.Name, destination.RedactURL(l.display) + " list " + l.key
}
