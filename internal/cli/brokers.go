package cli

import (
	"net/url"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/amqpdest"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/kafkadest"
	"github.com/hooklatch/hooklatch/destination/natsdest"
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

// NATSDestinationConfig is a config file's nats: block; its keys are the
// query parameters of a nats:// --forward-to URL.
type NATSDestinationConfig struct {
	URL          string   `yaml:"url"` // nats://host:4222
	Subject      string   `yaml:"subject"`
	Stream       string   `yaml:"stream"`
	DedupeWindow Duration `yaml:"dedupe_window"`
}

// AMQPDestinationConfig is a config file's amqp: block; its keys are the
// query parameters of an amqp:// --forward-to URL.
type AMQPDestinationConfig struct {
	URL          string `yaml:"url"` // amqp://user:pass@host:5672/vhost
	Exchange     string `yaml:"exchange"`
	RoutingKey   string `yaml:"routing_key"`
	ExchangeType string `yaml:"exchange_type"`
	Queue        string `yaml:"queue"`
}

// KafkaDestinationConfig is a config file's kafka: block; its keys are the
// query parameters of a kafka:// --forward-to URL.
type KafkaDestinationConfig struct {
	URL   string `yaml:"url"` // kafka://host:9092[,host:9092…]
	Topic string `yaml:"topic"`
}

// WorkerDestinationConfig is a config file's celery: or bullmq: block:
// the destination's --forward-to URL (celery+amqp://…, celery+redis://…,
// bullmq://…), its settings as query parameters.
type WorkerDestinationConfig struct {
	URL string `yaml:"url"`
}

// brokerSchemes are the URL schemes of broker destinations, and what
// --forward-to says about them.
var brokerSchemes = map[string]string{
	"redis": "redis", "rediss": "redis",
	"nats": "nats", "tls": "nats",
	"amqp": "amqp", "amqps": "amqp",
	"kafka":       "kafka",
	"celery+amqp": "celery", "celery+amqps": "celery", "celery+redis": "celery", "celery+rediss": "celery",
	"bullmq": "bullmq", "bullmqs": "bullmq",
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
	"Stream": "--forward-to stream=", "Subject": "--forward-to subject=", "MaxLen": "--forward-to maxlen=", "DedupeWindow": "--forward-to dedupe_window=",
	"Exchange": "--forward-to exchange=", "RoutingKey": "--forward-to routing_key=", "ExchangeType": "--forward-to exchange_type=", "Queue": "--forward-to queue=",
	"Topic":     "--forward-to topic=",
	"BrokerURL": "--forward-to", "Task": "--forward-to task=", "Origin": "--forward-to origin=",
	"RedisURL": "--forward-to", "Prefix": "--forward-to prefix=", "Attempts": "--forward-to attempts=", "Backoff": "--forward-to backoff=",
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
		cfg.Timeout = timeout
		return newBroker(redisdest.New, cfg, err, "", brokerFlagKeys)
	case "nats":
		cfg, err := natsdest.ParseURL(raw)
		cfg.Timeout = timeout
		return newBroker(natsdest.New, cfg, err, "", brokerFlagKeys)
	case "amqp":
		cfg, err := amqpdest.ParseURL(raw)
		cfg.Timeout = timeout
		return newBroker(amqpdest.New, cfg, err, "", brokerFlagKeys)
	case "kafka":
		cfg, err := kafkadest.ParseURL(raw)
		cfg.Timeout = timeout
		return newBroker(kafkadest.New, cfg, err, "", brokerFlagKeys)
	case "celery", "bullmq":
		// Their attempts are bounded by the attempt's context alone.
		return workerDestination(brokerSchemes[strings.ToLower(u.Scheme)], raw, "", brokerFlagKeys)
	}
	return nil, usageError("--forward-to %q: not a broker URL", u.Redacted())
}

// newBroker builds a broker destination from cfg, unless parsing it failed
// with parseErr, and words any objection in the terms of names.
func newBroker[C any, D destination.Destination](newFunc func(C) (D, error), cfg C, parseErr error, prefix string, names map[string]string) (destination.Destination, error) {
	if parseErr != nil {
		return nil, settingError(prefix, parseErr, names)
	}
	d, err := newFunc(cfg)
	if err != nil {
		return nil, settingError(prefix, err, names)
	}
	return d, nil
}

// natsFileKeys names natsdest's Config fields as the config file does.
var natsFileKeys = map[string]string{
	"URL": "nats.url", "Subject": "nats.subject", "Stream": "nats.stream", "DedupeWindow": "nats.dedupe_window", "Timeout": "timeout",
}

// kafkaFileKeys names kafkadest's Config fields as the config file does.
var kafkaFileKeys = map[string]string{"URL": "kafka.url", "Topic": "kafka.topic", "Timeout": "timeout"}

// amqpFileKeys names amqpdest's Config fields as the config file does.
var amqpFileKeys = map[string]string{
	"URL": "amqp.url", "Exchange": "amqp.exchange", "RoutingKey": "amqp.routing_key", "ExchangeType": "amqp.exchange_type", "Queue": "amqp.queue", "Timeout": "timeout",
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
		dest, err = newBroker(redisdest.New, redisdest.Config{
			URL: d.Redis.URL, Stream: d.Redis.Stream, MaxLen: d.Redis.MaxLen,
			DedupeWindow: time.Duration(d.Redis.DedupeWindow), Timeout: timeout,
		}, nil, where+": ", redisFileKeys)
		return dest, true, err
	case d.NATS != nil:
		dest, err = newBroker(natsdest.New, natsdest.Config{
			URL: d.NATS.URL, Subject: d.NATS.Subject, Stream: d.NATS.Stream,
			DedupeWindow: time.Duration(d.NATS.DedupeWindow), Timeout: timeout,
		}, nil, where+": ", natsFileKeys)
		return dest, true, err
	case d.AMQP != nil:
		dest, err = newBroker(amqpdest.New, amqpdest.Config{
			URL: d.AMQP.URL, Exchange: d.AMQP.Exchange, RoutingKey: d.AMQP.RoutingKey,
			ExchangeType: d.AMQP.ExchangeType, Queue: d.AMQP.Queue, Timeout: timeout,
		}, nil, where+": ", amqpFileKeys)
		return dest, true, err
	case d.Kafka != nil:
		dest, err = newBroker(kafkadest.New, kafkadest.Config{URL: d.Kafka.URL, Topic: d.Kafka.Topic, Timeout: timeout}, nil, where+": ", kafkaFileKeys)
		return dest, true, err
	case d.Celery != nil:
		dest, err = workerDestination("celery", d.Celery.URL, where+": ", workerFileKeys("celery"))
		return dest, true, err
	case d.BullMQ != nil:
		dest, err = workerDestination("bullmq", d.BullMQ.URL, where+": ", workerFileKeys("bullmq"))
		return dest, true, err
	}
	return nil, false, nil
}

// brokerKinds reports which broker blocks a config file entry sets.
func (d *DestinationConfig) brokerKinds() []bool {
	return []bool{d.Redis != nil, d.NATS != nil, d.AMQP != nil, d.Kafka != nil, d.Celery != nil, d.BullMQ != nil}
}

// workerDestination builds the Celery (kind "celery") or BullMQ
// destination raw names, wording objections with prefix and names; each
// package's ParseURL refuses a URL of the other kind.
func workerDestination(kind, raw, prefix string, names map[string]string) (destination.Destination, error) {
	raw = strings.TrimSpace(raw)
	if kind == "celery" {
		cfg, err := celerydest.ParseURL(raw)
		return newBroker(celerydest.New, cfg, err, prefix, names)
	}
	cfg, err := bullmqdest.ParseURL(raw)
	return newBroker(bullmqdest.New, cfg, err, prefix, names)
}

// workerFileKeys names the worker destinations' Config fields as the
// config file does: everything is in the block's url.
func workerFileKeys(block string) map[string]string {
	u := block + ".url"
	return map[string]string{
		"BrokerURL": u, "RedisURL": u, "Task": u + " task=", "Queue": u + " queue=", "Origin": u + " origin=",
		"Prefix": u + " prefix=", "Attempts": u + " attempts=", "Backoff": u + " backoff=",
	}
}
