// Package yamlfile reads the YAML files people write for hooklatch
// (serve's config file, send's scenarios): strictly, so that a misspelt key
// is an error rather than a silent default, and with errors in the file's
// terms (lines, keys, values), never the Go types the file is read into.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode reads the YAML document raw into v, refusing keys v has no field
// for. It returns io.EOF for an empty document.
func Decode(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err := dec.Decode(v)
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
	case strings.HasPrefix(t, "map[") || strings.HasPrefix(t, "struct") || strings.Contains(t, "."):
		return "a mapping of keys to values"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "text"
	}
	return "the right kind of value"
}
