package cloudtasksdest

import (
	"context"

	"github.com/hooklatch/hooklatch/destination"
)

// Kind describes the cloudtasks destination to the front ends.
var Kind = destination.Kind{
	Name:    "cloudtasks",
	Summary: "a Google Cloud Tasks HTTP task",
	Schemes: []string{"cloudtasks"},
	Example: "cloudtasks://projects/P/locations/L/queues/Q?url=https://worker/path",
	Params:  map[string]string{"Queue": "", "URL": "url", "ServiceAccount": "service_account", "Audience": "audience", "Endpoint": "endpoint"},
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(context.Background(), Config{Queue: block.Queue, URL: block.URL,
			ServiceAccount: block.ServiceAccount, Audience: block.Audience, Endpoint: block.Endpoint, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout },
		func(c Config) (*Destination, error) { return New(context.Background(), c) }),
}

// Block is the cloudtasks: block of a config file.
type Block struct {
	Queue          string `yaml:"queue"` // projects/P/locations/L/queues/Q
	URL            string `yaml:"url"`   // the worker's URL
	ServiceAccount string `yaml:"service_account"`
	Audience       string `yaml:"audience"`
	Endpoint       string `yaml:"endpoint"`
}
