package kafkadest

import "github.com/hooklatch/hooklatch/destination"

// Kind describes the kafka destination to the front ends.
var Kind = destination.Kind{
	Name:    "kafka",
	Summary: "a Kafka topic",
	Schemes: []string{"kafka"},
	Example: "kafka://host:9092?topic=NAME",
	Params:  map[string]string{"URL": "", "Topic": "topic"},
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(Config{URL: block.URL, Topic: block.Topic, Timeout: s.Timeout}))
	},
	FromURL: destination.URLBuilder(ParseURL, func(c *Config, s destination.Settings) { c.Timeout = s.Timeout }, New),
}

// Block is the kafka: block of a config file; its keys are the query
// parameters of a kafka:// URL.
type Block struct {
	URL   string `yaml:"url"` // kafka://host:9092[,host:9092…]
	Topic string `yaml:"topic"`
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, d.display + " topic " + d.topic
}
