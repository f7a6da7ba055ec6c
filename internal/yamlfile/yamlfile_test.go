package yamlfile

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type file struct {
	Name   string            `yaml:"name"`
	Max    int               `yaml:"max"`
	On     bool              `yaml:"on"`
	Types  []string          `yaml:"types"`
	Labels map[string]string `yaml:"labels"`
	HTTP   *struct {
		URL string `yaml:"url"`
	} `yaml:"http"`
	Steps []step `yaml:"steps"`
}

type step struct {
	Pause string `yaml:"pause"`
}

// Mistakes are told by line and key, in words, never by Go type.
func TestDecodeWordsMistakesForPeople(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ yaml, want string }{
		{"nmae: x\n", `line 1: unknown key "nmae"`},
		{"http: {url: x, bogus: 1}\n", `line 1: unknown key "bogus"`},
		{"steps:\n  - paus: 1s\n", `line 2: unknown key "paus"`},
		{"max: lots\n", `line 1: "lots" is not a whole number`},
		{"on: maybe\n", `line 1: "maybe" is not true or false`},
		{"types: message.*\n", `line 1: "message.*" is not a list`},
		{"name: [a, b]\n", `line 1: want text here`},
		{"labels: [a]\n", `line 1: want a mapping of keys to values here`},
		{"http: 3\n", `line 1: "3" is not a mapping of keys to values`},
		{"max: lots\nnmae: x\n", `line 1: "lots" is not a whole number; line 2: unknown key "nmae"`},
		{"name: x\n  bad indent: y\n", "line 2: mapping values are not allowed in this context"},
	} {
		var f file
		err := Decode([]byte(c.yaml), &f)
		if err == nil || err.Error() != c.want {
			t.Errorf("Decode(%q) = %v, want %q", c.yaml, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "yamlfile.") || strings.Contains(err.Error(), "yaml:") || strings.Contains(err.Error(), "struct")) {
			t.Errorf("Decode(%q) names Go: %v", c.yaml, err)
		}
	}
	var f file
	if err := Decode(nil, &f); !errors.Is(err, io.EOF) {
		t.Errorf("empty document: %v, want io.EOF", err)
	}
	if err := Decode([]byte("name: x\ntypes: [a]\n"), &f); err != nil || f.Name != "x" || f.Types[0] != "a" {
		t.Errorf("valid document: %+v, %v", f, err)
	}
}

// A node handed on by an UnmarshalYAML method is read as strictly as a
// document: unknown keys at any depth, and durations, by line.
func TestDecodeNodeIsStrict(t *testing.T) {
	t.Parallel()
	type block struct {
		URL    string        `yaml:"url"`
		Window time.Duration `yaml:"window"`
		Steps  []step        `yaml:"steps"`
	}
	for _, c := range []struct{ yaml, want string }{
		{"url: x\nurl2: y\n", `line 2: unknown key "url2"`},
		{"steps:\n  - pause: 1s\n  - paws: 1s\n", `line 3: unknown key "paws"`},
		{"window: soon\n", `line 1: "soon" is not a duration such as 30s or 2m`},
		{"window: -1s\n", `line 1: "-1s" is not a duration such as 30s or 2m`},
		{"url: [a]\n", `line 1: want text here`},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(c.yaml), &doc); err != nil {
			t.Fatal(err)
		}
		var b block
		if err := DecodeNode(doc.Content[0], &b); err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %s", c.yaml, err, c.want)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("url: x\nwindow: 90s\nsteps: [{pause: 1s}]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	var b block
	if err := DecodeNode(doc.Content[0], &b); err != nil || b.URL != "x" || b.Window != 90*time.Second || b.Steps[0].Pause != "1s" {
		t.Errorf("DecodeNode = %+v, %v", b, err)
	}
}
