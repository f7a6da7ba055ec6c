package celerydest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ParseURL reads a --forward-to value:
//
//	celery+amqp://guest:guest@host:5672/vhost?task=NAME&queue=NAME
//	celery+redis://host:6379/0?task=NAME&queue=NAME
//
// (also celery+amqps:// and celery+rediss://). The part after "celery+"
// is the broker URL, without the task and queue parameters; both are
// optional. Any other parameter is an error, so a misspelt one is caught.
func ParseURL(raw string) (Config, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	broker, isCelery := strings.CutPrefix(strings.ToLower(scheme), "celery+")
	if !ok || !isCelery {
		return Config{}, fmt.Errorf("a Celery destination looks like celery+amqp://host:5672/vhost or celery+redis://host:6379/0, not %q", redactURL(raw))
	}
	if !slices.Contains([]string{"amqp", "amqps", "redis", "rediss"}, broker) {
		return Config{}, fmt.Errorf("%q: Celery destinations use celery+amqp://, celery+amqps://, celery+redis:// or celery+rediss://", redactURL(raw))
	}
	u, err := url.Parse(broker + "://" + rest)
	if err != nil {
		return Config{}, fmt.Errorf("%q is not a URL: %s", redactURL(raw), redactErr(err.Error(), raw))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Config{}, fmt.Errorf("%q: the part after ? is not a query: %v", redactURL(raw), err)
	}
	var cfg Config
	for key, vals := range q {
		if len(vals) != 1 {
			return Config{}, fmt.Errorf("%q: %s is given %d times", redactURL(raw), key, len(vals))
		}
		switch key {
		case "task":
			cfg.Task = vals[0]
		case "queue":
			cfg.Queue = vals[0]
		default:
			return Config{}, fmt.Errorf("%q: unknown parameter %q (a Celery destination takes task and queue)", redactURL(raw), key)
		}
	}
	u.RawQuery = ""
	cfg.BrokerURL = u.String()
	if _, err := withDefaults(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// redactURL hides the password in a URL, for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		return raw
	}
	return u.Redacted()
}

// redactErr removes raw's password from a library's message.
func redactErr(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return msg
	}
	if p, has := u.User.Password(); has && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}
