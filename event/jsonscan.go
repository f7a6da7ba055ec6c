package event

import (
	"encoding/json"
	"unicode/utf8"
)

// This file holds the small, allocation-free JSON scanner the package uses
// to walk the top level of an object without decoding it into maps. It
// never recurses and never reads past the slice, so it is safe on any bytes;
// it is not a validator (Parse and Set run json.Valid first).

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (which must be '"'), or -1 when it is not terminated.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the JSON value starting at b[i], or
// -1 when there is none. Objects and arrays are skipped by counting brackets
// outside strings, iteratively, so depth costs nothing.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ':' {
			j++
		}
		return j
	}
}

// members iterates over the members of the object at the start of b.
type members struct {
	b     []byte
	i     int  // where the next member (or its comma) starts
	open  int  // index of '{'
	close int  // index of '}' once reached, else -1
	first bool // no member read yet
	bad   bool // malformed input
}

// objectMembers starts an iteration over the object that b holds (leading
// space allowed). ok is false when b does not start with '{'.
func objectMembers(b []byte) (m members, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return members{}, false
	}
	return members{b: b, i: i + 1, open: i, close: -1, first: true}, true
}

// next returns the next member: its key as raw JSON (quotes included) and
// the bounds of its value. ok is false at the end of the object or on
// malformed input (m.bad tells which).
func (m *members) next() (key []byte, vs, ve int, ok bool) {
	key, vs, ok = m.nextKey()
	if !ok {
		return nil, 0, 0, false
	}
	ve = valueEnd(m.b, vs)
	if !m.endValue(ve) {
		return nil, 0, 0, false
	}
	return key, vs, ve, true
}

// nextKey reads the next member as far as its value: the key as raw JSON
// and the index where the value starts. The caller finds where the value
// ends (valueEnd, or a walk of its own such as peekValue) and passes it to
// endValue before asking for the next member.
func (m *members) nextKey() (key []byte, vs int, ok bool) {
	if m.bad || m.close >= 0 {
		return nil, 0, false
	}
	b := m.b
	i := skipSpace(b, m.i)
	if i >= len(b) {
		m.bad = true
		return nil, 0, false
	}
	if b[i] == '}' {
		m.close = i
		return nil, 0, false
	}
	if !m.first {
		if b[i] != ',' {
			m.bad = true
			return nil, 0, false
		}
		i = skipSpace(b, i+1)
	}
	m.first = false
	if i >= len(b) || b[i] != '"' {
		m.bad = true
		return nil, 0, false
	}
	ke := stringEnd(b, i)
	if ke < 0 {
		m.bad = true
		return nil, 0, false
	}
	key = b[i:ke]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		m.bad = true
		return nil, 0, false
	}
	return key, skipSpace(b, i+1), true
}

// endValue records that the value of the member nextKey read ends at end.
// A negative end (no value there) makes the input malformed and ends the
// iteration: ok is false.
func (m *members) endValue(end int) (ok bool) {
	if end < 0 {
		m.bad = true
		return false
	}
	m.i = end
	return true
}

// hasEscape reports whether a raw JSON string needs unescaping.
func hasEscape(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' {
			return true
		}
	}
	return false
}

// keyIs reports whether the raw JSON key names name, without allocating in
// the common, unescaped case.
func keyIs(raw []byte, name string) bool {
	if len(raw) < 2 {
		return false
	}
	if !hasEscape(raw) {
		return string(raw[1:len(raw)-1]) == name
	}
	s, ok := unquote(raw)
	return ok && s == name
}

// keyText returns the text of a raw JSON key, for a switch: a switch on
// string(keyText(key)) costs one look for escapes and, in the common,
// unescaped case, no allocation. It is nil when raw is not a JSON string.
func keyText(raw []byte) []byte {
	if len(raw) < 2 {
		return nil
	}
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) {
		return inner
	}
	s, ok := unquote(raw)
	if !ok {
		return nil
	}
	return []byte(s)
}

// unquote decodes a raw JSON string. ok is false when raw is not a string.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if !hasEscape(inner) && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// kind names the JSON type of a raw value, for error messages.
func kind(raw []byte) string {
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// appendString appends s as a JSON string. Unlike encoding/json it leaves
// '<', '>' and '&' alone; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
