package store

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/google/uuid"
)

// Event ids are UUIDv7 strings whose last twelve hex characters are the
// first six bytes of the SHA-256 of the event's body, last byte first:
// the id ends with hex(h[2]) hex(h[1]) hex(h[0]). The time in front keeps
// ids in the order they were made; the end is the short id people type.
//
// A short id has to be found through an index, and an index on the end
// of random ids takes an insert at a random place for every event: one
// more page written to the log per append, and read from disk at
// millions of events (docs/performance.md). A store indexes the body's
// hash anyway, to refuse a body it has seen; an id whose end is that
// hash is found through that index instead (BodyHashRange), and costs
// the append nothing more. Ids made otherwise (by an older build, or a
// test) still work: a store keeps a short-id index of just those.

// NewEventID returns a new event id for an event whose body's SHA-256 is
// sum.
func NewEventID(sum [sha256.Size]byte) string {
	id := uuid.Must(uuid.NewV7())
	for i := range idHashBytes {
		id[len(id)-1-i] = sum[i]
	}
	return id.String()
}

// NewEventIDFor returns a new event id for an event with body body.
func NewEventIDFor(body []byte) string { return NewEventID(sha256.Sum256(body)) }

// idHashBytes is how many bytes of the body's hash end an id.
const idHashBytes = 6

// BodyHashRange returns the range [lo, hi) of body hashes that an id made
// by NewEventID and ending with suffix has: its events are among those
// whose hash is in it. hi is nil when the range runs to the end. ok is
// false when suffix says nothing of the hash (too short, or not the
// lower-case hex ids end in): such a suffix only names ids made
// otherwise.
func BodyHashRange(suffix string) (lo, hi []byte, ok bool) {
	tail := suffix[max(0, len(suffix)-2*idHashBytes):]
	// An odd character is the low half of a byte whose high half is not
	// given: the whole bytes after it bound the range.
	tail = tail[len(tail)%2:]
	if len(tail) < 2 {
		return nil, nil, false
	}
	for _, c := range []byte(tail) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return nil, nil, false
		}
	}
	b, _ := hex.DecodeString(tail) // hex digits, in pairs: checked above
	// The id ends with the hash's first bytes, last one first.
	lo = make([]byte, len(b))
	for i := range b {
		lo[i] = b[len(b)-1-i]
	}
	hi = append([]byte(nil), lo...)
	for i := len(hi) - 1; i >= 0; i-- {
		if hi[i]++; hi[i] != 0 {
			return lo, hi, true
		}
	}
	return lo, nil, true // all 0xff: nothing sorts after the range
}
