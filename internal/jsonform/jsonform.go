// Package jsonform rewrites a JSON body the ways frameworks re-serialise
// one. The signature package tries these forms to explain a mismatch, and
// `hooklatch check` signs them to catch a handler that verifies a
// re-serialised body instead of the bytes it received.
package jsonform

import (
	"bytes"
	"encoding/json"
)

// Compact returns src without insignificant white space, key order kept
// (json.Compact, JSON.stringify(JSON.parse(src))); nil when src is not JSON.
func Compact(src []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, src) != nil {
		return nil
	}
	return b.Bytes()
}

// Indent pretty-prints src one value per line with the given indent, as
// json.MarshalIndent, JSON.stringify(v, null, 2) and json.dumps(indent=2)
// do; nil when src is not JSON.
func Indent(src []byte, indent string) []byte {
	var b bytes.Buffer
	if json.Indent(&b, src, "", indent) != nil {
		return nil
	}
	return b.Bytes()
}

// Respace rewrites compact JSON with the given separators outside strings,
// e.g. ", " and ": " as Python's json.dumps does by default.
func Respace(compact []byte, itemSep, keySep string) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/4)
	inStr, esc := false, false
	for _, c := range compact {
		switch {
		case inStr:
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == ',':
			out = append(out, itemSep...)
		case c == ':':
			out = append(out, keySep...)
		default:
			out = append(out, c)
		}
	}
	return out
}
