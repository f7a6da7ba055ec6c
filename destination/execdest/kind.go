package execdest

import "github.com/hooklatch/hooklatch/destination"

// Kind describes the exec destination to the front ends: a config file
// block only, since a command is no URL.
var Kind = destination.Kind{
	Name:    "exec",
	Summary: "a command, with the event on stdin",
	Block:   func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		return destination.Built(New(Config{Command: block.Command, Env: block.Env, Dir: block.Dir, Timeout: s.Timeout}))
	},
}

// Block is the exec: block of a config file.
type Block struct {
	Command []string `yaml:"command"`
	Env     []string `yaml:"env"`
	Dir     string   `yaml:"dir"`
}

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, d.args[0] // not its arguments, which may hold secrets
}
