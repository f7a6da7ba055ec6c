package bullmqdest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want bullmqdest.Config
	}{
		{"bullmq://host:6379/0?queue=hooks", bullmqdest.Config{RedisURL: "redis://host:6379/0", Queue: "hooks"}},
		{"bullmq://127.0.0.1:6379", bullmqdest.Config{RedisURL: "redis://127.0.0.1:6379"}},
		{"bullmqs://:pw@host:6380/1?prefix=app&attempts=5&backoff=exponential:2s", bullmqdest.Config{
			RedisURL: "rediss://:pw@host:6380/1", Prefix: "app", Attempts: 5,
			Backoff: bullmqdest.Backoff{Type: "exponential", Delay: 2 * time.Second}}},
	} {
		got, err := bullmqdest.ParseURL(tc.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
			continue
		}
		if got.RedisURL != tc.want.RedisURL || got.Queue != tc.want.Queue || got.Prefix != tc.want.Prefix ||
			got.Attempts != tc.want.Attempts || got.Backoff != tc.want.Backoff {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseURLRejects(t *testing.T) {
	t.Parallel()
	workertest.Rejects(t, func(raw string) error { _, err := bullmqdest.ParseURL(raw); return err }, map[string]string{
		"bullmq://:secret@host/0?queu=x":    `unknown parameter "queu"`,
		"bullmq://host/0?attempts=0":        "1 or more",
		"bullmq://host/0?backoff=2s":        "fixed:DURATION or exponential:DURATION",
		"bullmq://host/0?backoff=linear:2s": "fixed or exponential",
		"bullmq://host/0?queue=a:b":         "cannot contain ':'",
		"redis://host:6379/0":               "looks like bullmq://",
		"bullmq://host/0?queue=a&queue=b":   "queue is given 2 times",
	})
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   bullmqdest.Config
		field string
	}{
		{bullmqdest.Config{}, "RedisURL"},
		{bullmqdest.Config{RedisURL: "amqp://host/"}, "RedisURL"},
		{bullmqdest.Config{RedisURL: "redis://host/0", Attempts: -1}, "Attempts"},
		{bullmqdest.Config{RedisURL: "redis://host/0", Backoff: bullmqdest.Backoff{Delay: time.Second}}, "Backoff"},
	} {
		_, err := bullmqdest.New(tc.cfg)
		ce, ok := errors.AsType[*destination.ConfigError](err)
		if !ok || ce.Field != tc.field {
			t.Errorf("New(%+v) = %v, want a ConfigError on %s", tc.cfg, err, tc.field)
		}
	}
}

// TestRedisDownIsTemporary checks that a Redis that does not answer is a
// temporary failure, never a success.
func TestRedisDownIsTemporary(t *testing.T) {
	t.Parallel()
	dest, err := bullmqdest.New(bullmqdest.Config{RedisURL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if o := destination.Classify(dest.Deliver(ctx, destinationtest.NewDelivery(1))); o.Class != destination.Temporary {
		t.Errorf("%s (%v), want temporary", o.Class, o.Err)
	}
}
