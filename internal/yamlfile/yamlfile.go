// Package yamlfile reads the YAML files people write for hooklatch
// (serve's config file, send's scenarios): strictly, so that a misspelt key
// is an error rather than a silent default, and with errors in the file's
// terms (lines, keys, values), never the Go types the file is read into.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Decode reads the YAML document raw into v, refusing keys v has no field
// for. It returns io.EOF for an empty document.
func Decode(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	return reworded(dec.Decode(v))
}

// reworded puts a decoding error in the file's terms.
func reworded(err error) error {
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		lines := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			lines[i] = reword(e)
		}
		return errors.New(strings.Join(lines, "; "))
	}
	if err != nil && strings.HasPrefix(err.Error(), "yaml: ") {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return err
}

// DecodeNode reads n into v as strictly as Decode reads a document: for
// an UnmarshalYAML method that hands part of its node to another type,
// since yaml's Node.Decode takes any key.
func DecodeNode(n *yaml.Node, v any) error {
	if err := knownKeys(n, reflect.TypeOf(v)); err != nil {
		return err
	}
	return reworded(n.Decode(v))
}

// knownKeys refuses a key in n that the struct t reads n into has no
// field for, in n and the mappings it holds, and a duration that is not
// one such as 30s (yaml takes a negative one, and words the other
// mistakes in Go's terms).
func knownKeys(n *yaml.Node, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && t == reflect.TypeFor[time.Duration]():
		if _, err := Duration(n); err != nil {
			return err
		}
	case n.Kind == yaml.SequenceNode && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for _, item := range n.Content {
			if err := knownKeys(item, t.Elem()); err != nil {
				return err
			}
		}
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			ft, ok := fields[key.Value]
			if !ok {
				return fmt.Errorf("line %d: unknown key %q", key.Line, key.Value)
			}
			if err := knownKeys(n.Content[i+1], ft); err != nil {
				return err
			}
		}
	}
	return nil
}

// Duration reads n as a duration such as 30s, 2m or 1h, not negative,
// with an error that names its line.
func Duration(n *yaml.Node) (time.Duration, error) {
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("line %d: %q is not a duration such as 30s or 2m", n.Line, n.Value)
	}
	return d, nil
}

// yamlFields maps the keys a struct type reads to their fields' types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case name == "":
			fields[strings.ToLower(f.Name)] = f.Type
		default:
			fields[name] = f.Type
		}
	}
	return fields
}

var (
	unknownField = regexp.MustCompile(`^(line \d+: )field (.+) not found in type .*$`)
	wrongKind    = regexp.MustCompile("^(line \\d+: )cannot unmarshal !!\\w+(?: `(.*)`)? into (.+)$")
)

// reword rewrites one of yaml's complaints about a value.
func reword(msg string) string {
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%sunknown key %q", m[1], m[2])
	}
	if m := wrongKind.FindStringSubmatch(msg); m != nil {
		if m[2] == "" {
			return m[1] + "want " + kind(m[3]) + " here"
		}
		return fmt.Sprintf("%s%q is not %s", m[1], m[2], kind(m[3]))
	}
	return msg
}

// kind says in words what a Go type holds.
func kind(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "text"
	case strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "struct") || strings.Contains(t, "."):
		return "a mapping of keys to values"
	}
	return "the right kind of value"
}
