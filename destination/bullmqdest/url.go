package bullmqdest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/destination/internal/workerurl"
)

// ParseURL reads a --forward-to value:
//
//	bullmq://[:password@]host:6379/0?queue=NAME
//
// (bullmqs:// for TLS). Every parameter is optional: queue (default
// webhook-processing), prefix (default bull), attempts (BullMQ's attempts
// option) and backoff (fixed:DURATION or exponential:DURATION, e.g.
// exponential:1s). Any other parameter is an error, so a misspelt one is
// caught.
func ParseURL(raw string) (Config, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	var redisScheme string
	switch strings.ToLower(scheme) {
	case "bullmq":
		redisScheme = "redis"
	case "bullmqs":
		redisScheme = "rediss"
	}
	if !ok || redisScheme == "" {
		return Config{}, fmt.Errorf("a BullMQ destination looks like bullmq://host:6379/0?queue=NAME, not %q", workerurl.Redact(raw))
	}
	u, params, err := workerurl.Parse(raw, redisScheme)
	if err != nil {
		return Config{}, err
	}
	var cfg Config
	for key, val := range params {
		if err := cfg.set(key, val); err != nil {
			return Config{}, fmt.Errorf("%q: %w", workerurl.Redact(raw), err)
		}
	}
	cfg.RedisURL = u.String()
	if _, _, _, err := check(cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (cfg *Config) set(key, val string) error {
	switch key {
	case "queue":
		cfg.Queue = val
	case "prefix":
		cfg.Prefix = val
	case "attempts":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 {
			return fmt.Errorf("attempts is a whole number, 1 or more, not %q", val)
		}
		cfg.Attempts = n
	case "backoff":
		typ, d, ok := strings.Cut(val, ":")
		delay, err := time.ParseDuration(d)
		if !ok || err != nil {
			return fmt.Errorf("backoff is fixed:DURATION or exponential:DURATION (e.g. exponential:1s), not %q", val)
		}
		cfg.Backoff = Backoff{Type: typ, Delay: delay}
	default:
		return fmt.Errorf("unknown parameter %q (a BullMQ destination takes queue, prefix, attempts and backoff)", key)
	}
	return nil
}
