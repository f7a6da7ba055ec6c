package amqpdest

import (
	"strconv"

	"github.com/hooklatch/hooklatch/destination"
)

// Kind describes the amqp destination to the front ends.
var Kind = destination.Kind{
	Name:    "amqp",
	Summary: "a RabbitMQ (AMQP 0-9-1) exchange",
	Schemes: []string{"amqp", "amqps"},
	Example: "amqp://user:pass@host:5672/vhost?exchange=NAME&routing_key=KEY",
	Params: map[string]string{"URL": "", "Exchange": "exchange", "RoutingKey": "routing_key",
		"ExchangeType": "exchange_type", "Queue": "queue"},
	Block: func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(Config{URL: block.URL, Exchange: block.Exchange, RoutingKey: block.RoutingKey,
			ExchangeType: block.ExchangeType, Queue: block.Queue, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout }, New),
}

// Block is the amqp: block of a config file; its keys are the query
// parameters of an amqp:// URL.
type Block struct {
	URL          string `yaml:"url"` // amqp://user:pass@host:5672/vhost
	Exchange     string `yaml:"exchange"`
	RoutingKey   string `yaml:"routing_key"`
	ExchangeType string `yaml:"exchange_type"`
	Queue        string `yaml:"queue"`
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, destination.RedactURL(d.display) + " exchange " + strconv.Quote(d.exchange) + " key " + strconv.Quote(d.key)
}
