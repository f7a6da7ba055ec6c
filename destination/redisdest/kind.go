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
