package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Every end of an id NewEventID made, from two characters to the whole
// id, gives a range of hashes that holds its body's hash, and the id is a
// UUIDv7 whose time orders it.
func TestEventIDEndsWithTheBodyHash(t *testing.T) {
	var last string
	for i := range 2000 {
		body := fmt.Appendf(nil, `{"n":%d}`, i)
		sum := sha256.Sum256(body)
		id := NewEventIDFor(body)
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || id != strings.ToLower(id) {
			t.Fatalf("id %s: version %v, variant %v, err %v; want a lower-case UUIDv7", id, u.Version(), u.Variant(), err)
		}
		if id[:13] < last[:min(len(last), 13)] {
			t.Fatalf("id %s made after %s sorts before it", id, last)
		}
		last = id
		if want := fmt.Sprintf("%02x%02x%02x", sum[2], sum[1], sum[0]); !strings.HasSuffix(id, want) {
			t.Fatalf("id %s for hash %x: want it to end with %s", id, sum[:3], want)
		}
		for n := 2; n <= len(id); n++ {
			lo, hi, ok := BodyHashRange(id[len(id)-n:])
			if !ok || bytes.Compare(sum[:], lo) < 0 || hi != nil && bytes.Compare(sum[:], hi) >= 0 {
				t.Fatalf("BodyHashRange(%q) = [%x, %x) ok %v: want a range holding %x", id[len(id)-n:], lo, hi, ok, sum)
			}
		}
	}
}

func TestBodyHashRange(t *testing.T) {
	for _, tc := range []struct {
		suffix string
		lo, hi string // hex; hi "-" for none
		ok     bool
	}{
		{"aa11b2c3", "c3b211aa", "c3b211ab", true},
		{"a11b2c3", "c3b211", "c3b212", true}, // the odd "a" is half a byte
		{"0000aa11b2c3", "c3b211aa0000", "c3b211aa0001", true},
		{"-0000aa11b2c3", "c3b211aa0000", "c3b211aa0001", true},
		{"8000-0000aa11b2c3", "c3b211aa0000", "c3b211aa0001", true},
		{"11ffff", "ffff11", "ffff12", true},
		{"ffffff", "ffffff", "-", true}, // nothing after it
		{"ff", "ff", "-", true},
		{"f", "", "", false},
		{"AA11B2C3", "", "", false}, // ids are lower case
		{"zz11b2c3", "", "", false},
	} {
		lo, hi, ok := BodyHashRange(tc.suffix)
		got := fmt.Sprintf("%x %x %v", lo, hi, ok)
		if tc.hi == "-" {
			tc.hi = ""
			if hi != nil {
				got = "hi not nil"
			}
		}
		if want := fmt.Sprintf("%s %s %v", tc.lo, tc.hi, tc.ok); got != want {
			t.Errorf("BodyHashRange(%q) = %s, want %s", tc.suffix, got, want)
		}
	}
}

// BodySum is the body's hash the caller gave, else the one it computes.
func TestBodySum(t *testing.T) {
	ev := &NewEvent{EventData: EventData{Body: []byte(`{"n":1}`)}}
	if got, want := ev.BodySum(), sha256.Sum256(ev.Body); got != want {
		t.Errorf("BodySum() = %x, want the body's hash %x", got, want)
	}
	ev.BodySHA256 = sha256.Sum256([]byte("given"))
	if got := ev.BodySum(); got != ev.BodySHA256 {
		t.Errorf("BodySum() = %x, want the hash given, %x", got, ev.BodySHA256)
	}
}
