package signature

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file holds the body rewrites Diagnose tries: each turns the body as
// received into a guess of the body as signed. They take untrusted bytes; the
// JSON ones run only on input that json.Valid accepted.

// rewriteStrings calls fn for every character inside the JSON strings of src
// and copies everything else. fn receives the character decoded and its bytes
// as they appear in src (raw UTF-8 or an escape sequence), and appends what
// should replace them.
func rewriteStrings(src []byte, fn func(dst []byte, r rune, orig []byte) []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/8)
	inStr := false
	for i := 0; i < len(src); {
		c := src[i]
		if !inStr {
			out = append(out, c)
			inStr = c == '"'
			i++
			continue
		}
		switch {
		case c == '"':
			out = append(out, c)
			inStr = false
			i++
		case c == '\\' && i+1 < len(src):
			r, n := decodeEscape(src[i:])
			out = fn(out, r, src[i:i+n])
			i += n
		default:
			r, n := utf8.DecodeRune(src[i:])
			out = fn(out, r, src[i:i+n])
			i += n
		}
	}
	return out
}

// decodeEscape decodes the escape sequence at the start of s (which begins
// with a backslash), joining UTF-16 surrogate pairs. It returns the character
// and the sequence's length; utf8.RuneError for an invalid one.
func decodeEscape(s []byte) (rune, int) {
	switch s[1] {
	case '"', '\\', '/':
		return rune(s[1]), 2
	case 'b':
		return '\b', 2
	case 'f':
		return '\f', 2
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case 'u':
		r, ok := hex4(s[2:])
		if !ok {
			return utf8.RuneError, 2
		}
		if 0xd800 <= r && r < 0xdc00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
			if lo, ok := hex4(s[8:]); ok && 0xdc00 <= lo && lo < 0xe000 {
				return 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00), 12
			}
		}
		if 0xd800 <= r && r < 0xe000 {
			return utf8.RuneError, 6 // lone surrogate
		}
		return r, 6
	}
	return utf8.RuneError, 2
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

// unescapeJSON replaces escape sequences that JSON does not require (\u00e9,
// \u003c, \/) with the characters themselves, as JSON.stringify would write
// them.
func unescapeJSON(src []byte) []byte {
	return rewriteStrings(src, func(dst []byte, r rune, orig []byte) []byte {
		if orig[0] != '\\' || r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError {
			return append(dst, orig...)
		}
		return utf8.AppendRune(dst, r)
	})
}

// escapeNonASCII writes every non-ASCII character as \uXXXX, as Python's
// json.dumps (ensure_ascii) and PHP's json_encode do.
func escapeNonASCII(src []byte) []byte {
	return rewriteStrings(src, func(dst []byte, r rune, orig []byte) []byte {
		if orig[0] == '\\' || r < 0x80 || r == utf8.RuneError {
			return append(dst, orig...)
		}
		if r > 0xffff {
			r -= 0x10000
			dst = appendU(dst, 0xd800+(r>>10))
			return appendU(dst, 0xdc00+(r&0x3ff))
		}
		return appendU(dst, r)
	})
}

// escapeHTML writes <, >, &, U+2028 and U+2029 as \u escapes, as Go's
// encoding/json does by default.
func escapeHTML(src []byte) []byte {
	return rewriteStrings(src, func(dst []byte, r rune, orig []byte) []byte {
		if orig[0] != '\\' && (r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029') {
			return appendU(dst, r)
		}
		return append(dst, orig...)
	})
}

// escapeSlash writes / as \/, as PHP's json_encode does.
func escapeSlash(src []byte) []byte {
	return rewriteStrings(src, func(dst []byte, r rune, orig []byte) []byte {
		if orig[0] != '\\' && r == '/' {
			return append(dst, '\\', '/')
		}
		return append(dst, orig...)
	})
}

func appendU(dst []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(dst, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

// jsonNode is a parsed JSON value that keeps the bytes of its scalars and
// keys, so that re-emitting it changes nothing but the order of keys.
type jsonNode struct {
	scalar  []byte       // strings, numbers, literals
	members []jsonMember // objects
	elems   []*jsonNode  // arrays
	object  bool
	array   bool
}

type jsonMember struct {
	rawKey []byte
	key    string
	val    *jsonNode
}

const maxReorderDepth = 256

// parseCompact parses compact, valid JSON. It returns nil when the input is
// not what it expects or is nested too deeply.
func parseCompact(src []byte) *jsonNode {
	p := jsonParser{src: src}
	n := p.value(0)
	if n == nil || p.pos != len(src) {
		return nil
	}
	return n
}

type jsonParser struct {
	src []byte
	pos int
}

func (p *jsonParser) value(depth int) *jsonNode {
	if depth > maxReorderDepth || p.pos >= len(p.src) {
		return nil
	}
	switch p.src[p.pos] {
	case '{':
		n := &jsonNode{object: true}
		p.pos++
		if p.peek('}') {
			p.pos++
			return n
		}
		for {
			raw := p.str()
			if raw == nil || !p.peek(':') {
				return nil
			}
			p.pos++
			var key string
			if json.Unmarshal(raw, &key) != nil {
				return nil
			}
			v := p.value(depth + 1)
			if v == nil {
				return nil
			}
			n.members = append(n.members, jsonMember{rawKey: raw, key: key, val: v})
			switch {
			case p.peek(','):
				p.pos++
			case p.peek('}'):
				p.pos++
				return n
			default:
				return nil
			}
		}
	case '[':
		n := &jsonNode{array: true}
		p.pos++
		if p.peek(']') {
			p.pos++
			return n
		}
		for {
			v := p.value(depth + 1)
			if v == nil {
				return nil
			}
			n.elems = append(n.elems, v)
			switch {
			case p.peek(','):
				p.pos++
			case p.peek(']'):
				p.pos++
				return n
			default:
				return nil
			}
		}
	case '"':
		s := p.str()
		if s == nil {
			return nil
		}
		return &jsonNode{scalar: s}
	}
	start := p.pos
	for p.pos < len(p.src) && !strings.ContainsRune(",]}:", rune(p.src[p.pos])) {
		p.pos++
	}
	if p.pos == start {
		return nil
	}
	return &jsonNode{scalar: p.src[start:p.pos]}
}

func (p *jsonParser) peek(c byte) bool { return p.pos < len(p.src) && p.src[p.pos] == c }

// str consumes a string and returns its bytes, quotes included.
func (p *jsonParser) str() []byte {
	if !p.peek('"') {
		return nil
	}
	start := p.pos
	for p.pos++; p.pos < len(p.src); p.pos++ {
		switch p.src[p.pos] {
		case '\\':
			p.pos++
		case '"':
			p.pos++
			return p.src[start:p.pos]
		}
	}
	return nil
}

func (n *jsonNode) appendTo(dst []byte) []byte {
	switch {
	case n.object:
		dst = append(dst, '{')
		for i, m := range n.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, m.rawKey...)
			dst = append(dst, ':')
			dst = m.val.appendTo(dst)
		}
		return append(dst, '}')
	case n.array:
		dst = append(dst, '[')
		for i, e := range n.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.appendTo(dst)
		}
		return append(dst, ']')
	}
	return append(dst, n.scalar...)
}

// sortKeys sorts the keys of every object, as a Go map, Python's
// sort_keys=True or a canonicaliser would.
func (n *jsonNode) sortKeys() {
	if n.object {
		slices.SortStableFunc(n.members, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	}
	for _, m := range n.members {
		m.val.sortKeys()
	}
	for _, e := range n.elems {
		e.sortKeys()
	}
}

// Sent's key order, from the fixtures in the protocol notes (§16). Unknown
// keys keep their relative order after the known ones. This is a best guess
// used only to recognise a re-ordered body; it is not part of the protocol.
var (
	sentEnvelopeOrder = []string{"id", "field", "sub_type", "event", "timestamp", "payload", "value"}
	sentPayloadOrder  = map[string][]string{
		"message": {"account_id", "message_id", "message_status", "from", "to", "text", "channel",
			"provider", "received_at", "inbound_number", "outbound_number", "template_id",
			"template_name", "agent_id", "updated_at"},
		"messages": {"channel", "account_id", "message_id", "template_id", "inbound_number",
			"message_status", "outbound_number"},
		"templates": {"account_id", "template_id", "template_name", "whatsapp_template_id",
			"status", "language", "category", "channel", "reason"},
		"contact": {"account_id", "contact_id", "phone_number", "channel", "opt_out", "source",
			"message_id", "text"},
	}
)

// sentOrder puts the envelope's keys, and its payload's, in Sent's order.
func (n *jsonNode) sentOrder() {
	if !n.object {
		return
	}
	orderMembers(n.members, sentEnvelopeOrder)
	var field string
	for _, m := range n.members {
		if m.key == "field" && m.val.scalar != nil {
			_ = json.Unmarshal(m.val.scalar, &field)
		}
	}
	for _, m := range n.members {
		if (m.key == "payload" || m.key == "value") && m.val.object {
			orderMembers(m.val.members, sentPayloadOrder[field])
		}
	}
}

func orderMembers(ms []jsonMember, order []string) {
	rank := func(k string) int {
		if i := slices.Index(order, k); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(ms, func(a, b jsonMember) int { return rank(a.key) - rank(b.key) })
}

// keysLookSorted reports whether every object in a JSON body has its keys in
// sorted order while Sent's order would differ: what a decode and re-encode
// through a map produces, and what Sent does not send.
func keysLookSorted(compact []byte) bool {
	n := parseCompact(compact)
	if n == nil || !n.object || !n.keysSorted() {
		return false
	}
	n.sentOrder()
	return !bytes.Equal(n.appendTo(nil), compact)
}

func (n *jsonNode) keysSorted() bool {
	if n.object && !slices.IsSortedFunc(n.members, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) }) {
		return false
	}
	for _, m := range n.members {
		if !m.val.keysSorted() {
			return false
		}
	}
	for _, e := range n.elems {
		if !e.keysSorted() {
			return false
		}
	}
	return true
}
