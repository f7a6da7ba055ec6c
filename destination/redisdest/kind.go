package redisdest

import (
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

// Kind describes the redis destination to the front ends.
var Kind = destination.Kind{
	Name:    "redis",
	Summary: "a Redis stream",
	Schemes: []string{"redis", "rediss"},
	Example: "redis://host:6379/0?stream=NAME",
	Params:  map[string]string{"URL": "", "Stream": "stream", "MaxLen": "maxlen", "DedupeWindow": "dedupe_window"},
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(Config{URL: block.URL, Stream: block.Stream, MaxLen: block.MaxLen,
			DedupeWindow: block.DedupeWindow, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout }, New),
}

// Block is the redis: block of a config file; its keys are the query
// parameters of a redis:// URL.
type Block struct {
	URL          string        `yaml:"url"` // redis://host:6379/0
	Stream       string        `yaml:"stream"`
	MaxLen       int64         `yaml:"maxlen"`
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, destination.RedactURL(d.display) + " stream " + d.stream
}

// ListKind describes the redis-list destination to the front ends.
var ListKind = destination.Kind{
	Name:    "redis-list",
	Summary: "a Redis list (LPUSH, for a BRPOP worker)",
	Schemes: []string{"redis+list", "rediss+list"},
	Example: "redis+list://host:6379/0?key=NAME",
	Params:  map[string]string{"URL": "", "Key": "key", "Push": "push", "DedupeWindow": "dedupe_window"},
	Block:   func() any { return new(ListBlock) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*ListBlock)
		cfg := ListConfig{URL: block.URL, Key: block.Key, Push: block.Push, DedupeWindow: block.DedupeWindow, Timeout: s.Timeout}
		return destination.Built(NewList(cfg))
	},
	FromURL: destination.URLBuilder(ParseListURL, func(c *ListConfig, s destination.Settings) { c.Timeout = s.Timeout }, NewList),
}

// ListBlock is the redis-list: block of a config file; its keys are the
// query parameters of a redis+list:// URL, and its url is a redis:// one.
type ListBlock struct {
	URL          string        `yaml:"url"`
	Key          string        `yaml:"key"`
	Push         string        `yaml:"push"`
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}
