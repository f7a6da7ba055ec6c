package natsdest

import (
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

// Kind describes the nats destination to the front ends.
var Kind = destination.Kind{
	Name:    "nats",
	Summary: "a NATS JetStream subject",
	Schemes: []string{"nats", "tls"},
	Example: "nats://host:4222?subject=NAME",
	Params:  map[string]string{"URL": "", "Subject": "subject", "Stream": "stream", "DedupeWindow": "dedupe_window"},
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(Config{URL: block.URL, Subject: block.Subject, Stream: block.Stream,
			DedupeWindow: block.DedupeWindow, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout }, New),
}

// Block is the nats: block of a config file; its keys are the query
// parameters of a nats:// URL.
type Block struct {
	URL          string        `yaml:"url"` // nats://host:4222
	Subject      string        `yaml:"subject"`
	Stream       string        `yaml:"stream"`
	DedupeWindow time.Duration `yaml:"dedupe_window"`
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, d.display + " subject " + d.subject
}
