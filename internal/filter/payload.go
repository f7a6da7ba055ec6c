package filter

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
)

// Reads is what filters read of an event's payload: nothing, some of its
// top-level members by name, or all of it. The zero Reads reads nothing.
type Reads struct {
	all     bool
	members []string // sorted, without repeats; empty when all
}

// ReadsAll reads the whole payload.
var ReadsAll = Reads{all: true}

// Payload reports whether r reads anything of the payload.
func (r Reads) Payload() bool { return r.all || len(r.members) > 0 }

// Members are the top-level members r reads, sorted; nil when r reads
// the whole payload or none of it.
func (r Reads) Members() []string { return slices.Clip(r.members) }

// All reports whether r reads the whole payload.
func (r Reads) All() bool { return r.all }

// Union is what r and s read together: what routing an event decodes
// for all of its destinations' filters.
func (r Reads) Union(s Reads) Reads {
	if r.all || s.all {
		return ReadsAll
	}
	m := slices.Concat(r.members, s.members)
	slices.Sort(m)
	return Reads{members: slices.Compact(m)}
}

// readsOf walks an expression for how it reads payload. A member read by
// a constant name (payload.channel, payload["channel"], payload?.a?.b
// reads a) needs only that member; any other use of payload (payload
// bare, payload[expr], len(payload), "k" in payload, let p = payload)
// or of $env, through which every variable can be read, needs all of it.
func readsOf(node ast.Node) Reads {
	var v readsVisitor
	ast.Walk(&node, &v)
	switch {
	case v.env || v.uses > len(v.members):
		return ReadsAll
	case v.uses == 0:
		return Reads{}
	}
	return Reads{}.Union(Reads{members: v.members})
}

// readsVisitor is an ast.Visitor that counts the uses of payload and
// notes the members read by a constant name. Walk visits a member read
// after its payload identifier, and both count once, so uses exceed the
// member reads exactly when payload is used some other way.
type readsVisitor struct {
	uses    int      // payload identifiers
	members []string // the member of each constant-name read, repeats kept
	env     bool     // $env is used
}

func (v *readsVisitor) Visit(n *ast.Node) {
	switch n := (*n).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "payload":
			v.uses++
		case "$env":
			v.env = true
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		name, constant := n.Property.(*ast.StringNode)
		if ok && id.Value == "payload" && constant {
			v.members = append(v.members, name.Value)
		}
	}
}

// payloadOf decodes the payload object of body, else its value object;
// empty when there is neither.
func payloadOf(body []byte) map[string]any {
	var env struct {
		Payload map[string]any `json:"payload"`
		Value   map[string]any `json:"value"`
	}
	// A body that is not JSON, or whose payload is not an object, leaves
	// payload empty; the event's Attention says what is wrong with it.
	_ = json.Unmarshal(body, &env)
	switch {
	case env.Payload != nil:
		return env.Payload
	case env.Value != nil:
		return env.Value
	}
	return map[string]any{}
}

// payloadMembers is payloadOf(body) with only the members named: the
// same values, but only those members are decoded, in one pass over the
// body that also checks it is JSON. It reads the body as encoding/json
// does: a body that is not valid JSON gives an empty payload; "payload"
// and "value" match their keys without regard to case; a repeated payload
// key merges its objects into one, where a later member wins, and null
// clears what came before; a repeated member takes its last value.
func payloadMembers(body []byte, names []string) map[string]any {
	out := make(map[string]any, len(names))
	var buf [2 * 8][]byte
	raws := buf[:]
	if 2*len(names) > len(buf) {
		raws = make([][]byte, 2*len(names))
	}
	payload := found{raws: raws[:len(names)]}
	value := found{raws: raws[len(names) : 2*len(names)]}
	s := scanner{b: body}
	s.space()
	if s.i == len(s.b) || s.b[s.i] != '{' {
		return out // not JSON, or not an object: no payload either way
	}
	ok := s.object(func(key []byte) bool {
		var f *found
		switch {
		case bytes.EqualFold(key, keyPayload):
			f = &payload
		case bytes.EqualFold(key, keyValue):
			f = &value
		default:
			return s.value()
		}
		switch s.b[s.i] {
		case '{':
			f.set = true
			return s.object(func(key []byte) bool {
				i := nameIndex(names, key)
				start := s.i
				if !s.value() {
					return false
				}
				if i >= 0 {
					f.raws[i] = s.b[start:s.i]
				}
				return true
			})
		case 'n':
			f.set = false
			clear(f.raws)
		}
		// Any value but an object or null is a type error to
		// encoding/json, which skips it.
		return s.value()
	})
	s.space()
	if !ok || s.i != len(s.b) {
		return out
	}
	f := payload
	if !f.set {
		f = value
	}
	for i, raw := range f.raws {
		if raw != nil {
			out[names[i]] = valueOf(raw)
		}
	}
	return out
}

// found is what one key of the envelope ("payload" or "value") holds, as
// encoding/json merges its objects into one map: set once an object is
// seen, cleared by null, with the last value of each member named.
type found struct {
	set  bool
	raws [][]byte // by the index of the name
}

// The envelope's keys of the payload, as encoding/json's struct field
// names for payloadOf.
var keyPayload, keyValue = []byte("payload"), []byte("value")

// keyText is an object key, written with its quotes, as encoding/json
// reads it. A key without escapes in valid UTF-8 reads as written;
// encoding/json decodes the others, turning invalid UTF-8 and lone
// surrogates into U+FFFD.
func keyText(raw []byte) []byte {
	if !plain(raw) {
		var s string
		_ = json.Unmarshal(raw, &s)
		return []byte(s)
	}
	return raw[1 : len(raw)-1]
}

// nameIndex is the index of key in names, else -1.
func nameIndex(names []string, key []byte) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// valueOf decodes one raw JSON value as encoding/json decodes it into
// any: a string without escapes directly, anything else by encoding/json.
func valueOf(raw []byte) any {
	if raw[0] == '"' && plain(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var x any
	// A number out of float64's range is an error that leaves x nil, as
	// it leaves the member nil in payloadOf.
	_ = json.Unmarshal(raw, &x)
	return x
}

// plain reports whether a valid JSON string literal reads as it is
// written: no escapes, and valid UTF-8 (encoding/json replaces each
// invalid byte with U+FFFD).
func plain(raw []byte) bool {
	return bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw)
}
