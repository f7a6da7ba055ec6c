package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxSetDepth bounds the number of segments in a Set path.
const maxSetDepth = 32

// Set returns a copy of body with the member at path set to value, as in
// "hooklatch trigger message.delivered --set payload.message_status=FAILED".
//
// path is a dotted list of object keys ("payload.message_status"), in
// UTF-8; keys cannot contain dots, and a path has at most 32 of them. Missing objects
// along the path are created. value is taken as a JSON literal when it is
// one (a number, true, false, null, a quoted string, an object or array,
// compacted) and as a string otherwise, so FAILED and "FAILED" both give
// the string FAILED, and 3 gives the number 3.
//
// Everything else in body is left byte for byte as it was, key order and
// layout included: the new value is spliced in, and a new key goes after the
// object's last member. When a key occurs twice, the last occurrence (the
// one a JSON decoder keeps) is set. Set fails with ErrNotJSON or
// ErrNotObject for a body that is not a JSON object, and with ErrNotObject
// when the path runs through a value that is not an object (null included).
func Set(body []byte, path string, value string) ([]byte, error) {
	segs, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	start := skipSpace(body, 0)
	if start == len(body) {
		return nil, fmt.Errorf("%w: empty body", ErrNotJSON)
	}
	if !json.Valid(body) {
		return nil, notJSON(body)
	}
	if body[start] != '{' {
		return nil, fmt.Errorf("%w: the body is %s", ErrNotObject, kind(body[start:]))
	}
	out, err := setIn(body, segs, 0, literal(value))
	if err != nil {
		return nil, err
	}
	if !json.Valid(out) { // a deep value placed deep: past the nesting limit
		return nil, fmt.Errorf("%w: set %s: the result nests too deep", ErrNotJSON, path)
	}
	return out, nil
}

func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, errors.New("event: set: empty path")
	}
	if !utf8.ValidString(path) {
		return nil, errors.New("event: set: path is not valid UTF-8")
	}
	if n := strings.Count(path, ".") + 1; n > maxSetDepth {
		return nil, fmt.Errorf("event: set: path has %d segments, more than %d", n, maxSetDepth)
	}
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("event: set: path %q has an empty segment", path)
		}
	}
	return segs, nil
}

// literal returns value as JSON: itself, compacted, when it is valid JSON,
// else a JSON string.
func literal(value string) []byte {
	if json.Valid([]byte(value)) {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(value)) == nil {
			return buf.Bytes()
		}
	}
	return appendString(nil, value)
}

// setIn sets segs[i:] inside obj, which holds a JSON object, and returns
// the new object.
func setIn(obj []byte, segs []string, i int, val []byte) ([]byte, error) {
	m, ok := objectMembers(obj)
	if !ok {
		return nil, fmt.Errorf("%w: set %s: %s is %s", ErrNotObject,
			strings.Join(segs, "."), strings.Join(segs[:i], "."), kind(obj[skipSpace(obj, 0):]))
	}
	found, vs, ve, last := false, 0, 0, -1
	for {
		key, s, e, ok := m.next()
		if !ok {
			break
		}
		last = e
		if keyIs(key, segs[i]) {
			found, vs, ve = true, s, e
		}
	}
	if m.bad {
		return nil, fmt.Errorf("%w: set %s: malformed object", ErrNotJSON, strings.Join(segs, "."))
	}

	if found {
		nv := val
		if i+1 < len(segs) {
			var err error
			if nv, err = setIn(obj[vs:ve], segs, i+1, val); err != nil {
				return nil, err
			}
		}
		return splice(obj, vs, ve, nv), nil
	}

	// A new member: segs[i] with the rest of the path as new objects.
	member := appendString(nil, segs[i])
	member = append(member, ':')
	for _, s := range segs[i+1:] {
		member = append(member, '{')
		member = appendString(member, s)
		member = append(member, ':')
	}
	member = append(member, val...)
	member = append(member, bytes.Repeat([]byte{'}'}, len(segs)-i-1)...)
	if last < 0 { // empty object: right after '{'
		return splice(obj, m.open+1, m.open+1, member), nil
	}
	return splice(obj, last, last, append([]byte{','}, member...)), nil
}

// splice returns a new slice: b with b[from:to] replaced by repl.
func splice(b []byte, from, to int, repl []byte) []byte {
	out := make([]byte, 0, len(b)-(to-from)+len(repl))
	out = append(out, b[:from]...)
	out = append(out, repl...)
	return append(out, b[to:]...)
}
