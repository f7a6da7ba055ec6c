package bullmqdest

import "github.com/hooklatch/hooklatch/destination"

// Kind describes the bullmq destination to the front ends. Its block holds
// the same URL as --forward-to takes, with every setting in the URL; an
// attempt is bounded by its context alone.
var Kind = destination.Kind{
	Name:    "bullmq",
	Summary: "a BullMQ job, on Redis",
	Schemes: []string{"bullmq", "bullmqs"},
	Example: "bullmq://host:6379/0?queue=NAME",
	Params:  map[string]string{"RedisURL": "", "Queue": "queue", "Prefix": "prefix", "Attempts": "attempts", "Backoff": "backoff"},
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
	return Kind.Name, destination.RedactURL(d.cfg.RedisURL) + " queue " + d.cfg.Queue
}
