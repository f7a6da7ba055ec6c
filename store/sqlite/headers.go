package sqlite

import (
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// headersJSON encodes an event's kept headers for the headers column into
// a buffer of the size they need. It writes exactly what json.Marshal
// writes for the map, which reads them back: keys in byte order, strings
// escaped alike (", \, control characters, and <, > and & as \u003c,
// \u003e and \u0026), U+2028 and U+2029 escaped, invalid UTF-8 written as
// U+FFFD, and null for a nil map. Append runs it for every request, where
// json.Marshal's reflection over the map cost more than the copy.
func headersJSON(h map[string]string) []byte {
	if h == nil {
		return []byte("null")
	}
	var stack [16]string // the receiver keeps a handful
	keys := stack[:0]
	size := len("{}")
	for k, v := range h {
		keys = append(keys, k)
		size += len(k) + len(v) + len(`"":"",`)
	}
	slices.Sort(keys)
	dst := make([]byte, 0, size)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, h[k])
	}
	return append(dst, '}')
}

// jsonSafe holds the ASCII bytes a JSON string takes as they are, as
// encoding/json decides with HTML escaping on (its default).
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for b := range safe {
		safe[b] = b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return safe
}()

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// decodeHeaders reads the headers column back. The common case, written
// by headersJSON with nothing to escape, is read with one pass and no
// reflection; anything else (escapes, older rows, another writer's
// spacing) goes to encoding/json, so the two always agree. Claims run it
// for every event they deliver.
func decodeHeaders(s string) (map[string]string, error) {
	if h, ok := decodePlainHeaders(s); ok {
		return h, nil
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return nil, err
	}
	return h, nil
}

// decodePlainHeaders reads {"k":"v",…} whose strings hold no backslash,
// no control character and only valid UTF-8; ok is false for anything
// else.
func decodePlainHeaders(s string) (map[string]string, bool) {
	if s == "null" {
		return nil, true
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' || !utf8.ValidString(s) {
		return nil, false
	}
	h := make(map[string]string, 8)
	rest := s[1 : len(s)-1]
	for len(rest) > 0 {
		k, after, ok := plainString(rest)
		if !ok || len(after) == 0 || after[0] != ':' {
			return nil, false
		}
		v, after, ok := plainString(after[1:])
		if !ok {
			return nil, false
		}
		h[k] = v
		if len(after) == 0 {
			break
		}
		if after[0] != ',' || len(after) == 1 {
			return nil, false
		}
		rest = after[1:]
	}
	return h, true
}

// plainString reads a leading "…" holding no escape or control byte.
func plainString(s string) (str, rest string, ok bool) {
	if len(s) < 2 || s[0] != '"' {
		return "", "", false
	}
	for i := 1; i < len(s); i++ {
		switch b := s[i]; {
		case b == '"':
			return s[1:i], s[i+1:], true
		case b == '\\' || b < 0x20:
			return "", "", false
		}
	}
	return "", "", false
}
