package logdest

import "github.com/hooklatch/hooklatch/destination"

// Kind describes the log destination to the front ends: a block with no
// keys, `log: {}`.
var Kind = destination.Kind{
	Name:    "log",
	Summary: "serve's log: a line per event (the default)",
	Block:   func() any { return new(struct{}) },
	New: func(_ any, s destination.Settings) (destination.Destination, error) {
		return New(s.Logger), nil
	},
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (l *logDestination) Describe() (kind, target string) {
	return Kind.Name, ""
}
