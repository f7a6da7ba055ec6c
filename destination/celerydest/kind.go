package celerydest

import "github.com/hooklatch/hooklatch/destination"

// Kind describes the celery destination to the front ends. Its block holds
// the same URL as --forward-to takes, with every setting in the URL; an
// attempt is bounded by its context alone.
var Kind = destination.Kind{
	Name:    "celery",
	Summary: "a Celery task, on RabbitMQ or Redis",
	Schemes: []string{"celery+amqp", "celery+amqps", "celery+redis", "celery+rediss"},
	Example: "celery+amqp://user:pass@host:5672/vhost?task=NAME&queue=NAME",
	Params:  map[string]string{"BrokerURL": "", "Task": "task", "Queue": "queue", "Origin": "origin"},
	Block:   func() any { return new(destination.URLBlock) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		return fromURL(b.(*destination.URLBlock).URL, s)
	},
	FromURL: fromURL,
}

var fromURL = destination.URLBuilder(ParseURL, nil, New)

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, destination.RedactURL(d.cfg.BrokerURL) + " queue " + d.cfg.Queue
}
