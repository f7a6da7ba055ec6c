package celerydest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hooklatch/hooklatch/destination/internal/workerurl"
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
	scheme, _, ok := strings.Cut(raw, "://")
	broker, isCelery := strings.CutPrefix(strings.ToLower(scheme), "celery+")
	if !ok || !isCelery {
		return Config{}, fmt.Errorf("a Celery destination looks like celery+amqp://host:5672/vhost or celery+redis://host:6379/0, not %q", workerurl.Redact(raw))
	}
	if !slices.Contains([]string{"amqp", "amqps", "redis", "rediss"}, broker) {
		return Config{}, fmt.Errorf("%q: Celery destinations use celery+amqp://, celery+amqps://, celery+redis:// or celery+rediss://", workerurl.Redact(raw))
	}
	u, params, err := workerurl.Parse(raw, broker)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	for key, val := range params {
		switch key {
		case "task":
			cfg.Task = val
		case "queue":
			cfg.Queue = val
		default:
			return Config{}, fmt.Errorf("%q: unknown parameter %q (a Celery destination takes task and queue)", workerurl.Redact(raw), key)
		}
	}
	cfg.BrokerURL = u.String()
	if _, err := withDefaults(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
