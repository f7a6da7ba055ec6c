package filter

import (
	"encoding/binary"
	"math/bits"
)

// maxDepth is encoding/json's limit on nesting: a body whose arrays and
// objects nest deeper is not valid to json.Valid and json.Unmarshal.
const maxDepth = 10000

// scanner reads a JSON text b from i, checking it as json.Valid does.
// Each method reads one thing at i and reports whether it was valid; on
// false, i is somewhere inside the invalid part.
type scanner struct {
	b     []byte
	i     int
	depth int // of the arrays and objects open at i
	// simple: the last string read has no escapes and only ASCII, so it
	// reads as written.
	simple bool
}

// space skips whitespace, as JSON defines it.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value, after any whitespace before it.
func (s *scanner) value() bool {
	s.space()
	if s.i == len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(func([]byte) bool { return s.value() })
	case c == '[':
		return s.array()
	case c == '"':
		return s.string()
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// object reads the object at i. For each member it calls member with the
// key (as keyText reads it) and i at the member's value, which member
// must read, by value or otherwise.
func (s *scanner) object(member func(key []byte) bool) bool {
	if !s.open() {
		return false
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		return s.close()
	}
	for {
		s.space()
		start := s.i
		if s.i == len(s.b) || s.b[s.i] != '"' || !s.string() {
			return false
		}
		key := s.b[start+1 : s.i-1]
		if !s.simple {
			key = keyText(s.b[start:s.i])
		}
		s.space()
		if s.i == len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		if s.i == len(s.b) || !member(key) {
			return false
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

// array reads the array at i.
func (s *scanner) array() bool {
	if !s.open() {
		return false
	}
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		return s.close()
	}
	for {
		if !s.value() {
			return false
		}
		if more, ok := s.next(']'); !more {
			return ok
		}
	}
}

// next reads what follows a member or an element: a comma, after which
// more follows, or end, which closes the object or array. ok is false
// when neither is there, or the close is not valid.
func (s *scanner) next(end byte) (more, ok bool) {
	s.space()
	switch {
	case s.i == len(s.b):
		return false, false
	case s.b[s.i] == ',':
		s.i++
		return true, true
	case s.b[s.i] == end:
		return false, s.close()
	}
	return false, false
}

// open enters the array or object at i, within maxDepth.
func (s *scanner) open() bool {
	s.i++
	s.depth++
	return s.depth <= maxDepth
}

// close leaves the array or object whose end is at i.
func (s *scanner) close() bool {
	s.i++
	s.depth--
	return true
}

// string reads the string at i: no control characters, and only JSON's
// escapes. Bytes that are not UTF-8 are valid, as to encoding/json.
func (s *scanner) string() bool {
	s.simple = true
	for s.i++; s.i < len(s.b); s.i++ {
		for s.i+8 <= len(s.b) {
			if m := specials8(binary.LittleEndian.Uint64(s.b[s.i:])); m != 0 {
				s.i += bits.TrailingZeros64(m) / 8 // the first special byte
				break
			}
			s.i += 8
		}
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		if !special[c] {
			continue
		}
		switch {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c >= 0x80:
			s.simple = false
		default: // a backslash
			s.simple = false
			s.i++
			if s.i == len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if s.i+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// specials8 marks the special bytes among the eight of w (little-endian):
// quotes, backslashes, control characters and bytes of 0x80 and above,
// all eight tested at once (the zero-byte tests of "Bit Twiddling Hacks").
// It is 0 when there is none, and its lowest set bit is the high bit of
// the first one; bits above that one may be set for plain bytes.
func specials8(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	zeroQuote := (quote - ones) &^ quote
	zeroBackslash := (backslash - ones) &^ backslash
	below20 := (w - ones*0x20) &^ w
	return (zeroQuote | zeroBackslash | below20 | w) & highs
}

// special are the bytes string stops at: the closing quote, a backslash,
// control characters, and bytes of non-ASCII UTF-8 (or of none).
var special = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80
	}
	return t
}()

// number reads the number at i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i == len(s.b) || !digit(s.b[s.i]):
		return false
	case s.b[s.i] == '0':
		s.i++
	default:
		s.digits()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.i == len(s.b) || !digit(s.b[s.i]) {
			return false
		}
		s.digits()
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.i == len(s.b) || !digit(s.b[s.i]) {
			return false
		}
		s.digits()
	}
	return true
}

func (s *scanner) digits() {
	for s.i < len(s.b) && digit(s.b[s.i]) {
		s.i++
	}
}

func digit(c byte) bool { return '0' <= c && c <= '9' }

// literal reads true, false or null at i.
func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}
