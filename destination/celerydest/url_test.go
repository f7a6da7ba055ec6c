package celerydest_test

import (
	"errors"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want celerydest.Config
	}{
		{"celery+amqp://guest:guest@host:5672/vhost?task=app.handle&queue=hooks",
			celerydest.Config{BrokerURL: "amqp://guest:guest@host:5672/vhost", Task: "app.handle", Queue: "hooks"}},
		{"celery+redis://host:6379/0", celerydest.Config{BrokerURL: "redis://host:6379/0"}},
		{"CELERY+REDISS://:pw@host:6380/2?queue=q", celerydest.Config{BrokerURL: "rediss://:pw@host:6380/2", Queue: "q"}},
		{"celery+amqps://u:p@host/?task=t", celerydest.Config{BrokerURL: "amqps://u:p@host/", Task: "t"}},
	} {
		got, err := celerydest.ParseURL(tc.raw)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseURLRejects(t *testing.T) {
	t.Parallel()
	workertest.Rejects(t, func(raw string) error { _, err := celerydest.ParseURL(raw); return err }, map[string]string{
		"celery+amqp://guest:secret@host/?tsak=x": `unknown parameter "tsak"`,
		"celery+amqp://host/?queue=a&queue=b":     "queue is given 2 times",
		"celery+kafka://host:9092":                "celery+amqp://, celery+amqps://, celery+redis:// or celery+rediss://",
		"amqp://host:5672/":                       "looks like celery+amqp://",
		"celery+redis://host/0?task=has%20space":  "no spaces",
	})
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   celerydest.Config
		field string
	}{
		{celerydest.Config{}, "BrokerURL"},
		{celerydest.Config{BrokerURL: "http://host/"}, "BrokerURL"},
		{celerydest.Config{BrokerURL: "amqp://host/", Queue: "a b"}, "Queue"},
		{celerydest.Config{BrokerURL: "redis://host:notaport/0"}, "BrokerURL"},
	} {
		_, err := celerydest.New(tc.cfg)
		ce, ok := errors.AsType[*destination.ConfigError](err)
		if !ok || ce.Field != tc.field {
			t.Errorf("New(%+v) = %v, want a ConfigError on %s", tc.cfg, err, tc.field)
		}
	}
}
