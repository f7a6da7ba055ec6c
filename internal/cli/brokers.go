package cli

import (
	"net/url"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/redisdest"
)

// RedisDestinationConfig is a config file's redis: block; its keys are the
// query parameters of a redis:// --forward-to URL.
type RedisDestinationConfig struct {
	URL          string   `yaml:"url"` // redis://host:6379/0
	Stream       string   `yaml:"stream"`
	MaxLen       int64    `yaml:"maxlen"`
	DedupeWindow Duration `yaml:"dedupe_window"`
}

// brokerSchemes are the URL schemes of broker destinations, and what
// --forward-to says about them.
var brokerSchemes = map[string]string{
	"redis": "redis", "rediss": "redis",
}

// isBrokerURL reports whether raw names a broker rather than an HTTP
// endpoint.
func isBrokerURL(raw string) bool {
	scheme, _, ok := strings.Cut(strings.TrimSpace(raw), "://")
	return ok && brokerSchemes[strings.ToLower(scheme)] != ""
}

// brokerFlagKeys names a broker destination's Config fields as a
// --forward-to URL spells them.
var brokerFlagKeys = map[string]string{
	"URL": "--forward-to", "Timeout": "--forward-timeout",
	"Stream": "--forward-to stream=", "MaxLen": "--forward-to maxlen=", "DedupeWindow": "--forward-to dedupe_window=",
}

// brokerDestination builds the broker destination a --forward-to URL
// names; timeout bounds each attempt.
func brokerDestination(raw string, timeout time.Duration) (destination.Destination, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, usageError("--forward-to %q: %v", raw, err)
	}
	switch brokerSchemes[strings.ToLower(u.Scheme)] {
	case "redis":
		cfg, err := redisdest.ParseURL(raw)
		if err != nil {
			return nil, settingError("", err, brokerFlagKeys)
		}
		cfg.Timeout = timeout
		return newRedis(cfg, "", brokerFlagKeys)
	}
	return nil, usageError("--forward-to %q: not a broker URL", u.Redacted())
}

func newRedis(cfg redisdest.Config, prefix string, names map[string]string) (destination.Destination, error) {
	d, err := redisdest.New(cfg)
	if err != nil {
		return nil, settingError(prefix, err, names)
	}
	return d, nil
}

// redisFileKeys names redisdest's Config fields as the config file does.
var redisFileKeys = map[string]string{
	"URL": "redis.url", "Stream": "redis.stream", "MaxLen": "redis.maxlen", "DedupeWindow": "redis.dedupe_window", "Timeout": "timeout",
}

// fileBroker builds the broker destination of a config file entry; ok is
// false when the entry names none.
func (d *DestinationConfig) fileBroker(where string) (dest destination.Destination, ok bool, err error) {
	timeout := time.Duration(d.Timeout)
	switch {
	case d.Redis != nil:
		dest, err = newRedis(redisdest.Config{
			URL: d.Redis.URL, Stream: d.Redis.Stream, MaxLen: d.Redis.MaxLen,
			DedupeWindow: time.Duration(d.Redis.DedupeWindow), Timeout: timeout,
		}, where+": ", redisFileKeys)
		return dest, true, err
	}
	return nil, false, nil
}

// brokerKinds reports which broker blocks a config file entry sets.
func (d *DestinationConfig) brokerKinds() []bool {
	return []bool{d.Redis != nil}
}
