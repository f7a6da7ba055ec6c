package sqsdest

import (
	"context"

	"github.com/hooklatch/hooklatch/destination"
)

// Kind describes the sqs destination to the front ends.
var Kind = destination.Kind{
	Name:    "sqs",
	Summary: "an Amazon SQS queue, standard or FIFO",
	Schemes: []string{"sqs"},
	Example: "sqs://sqs.REGION.amazonaws.com/ACCOUNT/NAME",
	Params:  map[string]string{"QueueURL": "", "Region": "region", "Endpoint": "endpoint"},
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(context.Background(), Config{QueueURL: block.QueueURL, Region: block.Region,
			Endpoint: block.Endpoint, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout },
		func(c Config) (*Destination, error) { return New(context.Background(), c) }),
}

// Block is the sqs: block of a config file.
type Block struct {
	QueueURL string `yaml:"queue_url"` // https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
}
