package filter

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// specials8 finds the first special byte of a word, or none, as the
// table does: any byte value at any of the eight places, and random words.
func TestSpecials8MatchesSpecial(t *testing.T) {
	first := func(w uint64) int {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		for i, c := range b {
			if special[c] {
				return i
			}
		}
		return 8
	}
	check := func(w uint64) {
		if got, want := bits.TrailingZeros64(specials8(w))/8, first(w); got != want {
			t.Fatalf("specials8(%#016x) finds byte %d first, want %d", w, got, want)
		}
	}
	for at := range 8 {
		for c := range 256 {
			b := []byte("abcdefgh")
			b[at] = byte(c)
			check(binary.LittleEndian.Uint64(b))
			for i := range b {
				b[i] = 0x20 // the lowest plain byte, where borrows start
			}
			b[at] = byte(c)
			check(binary.LittleEndian.Uint64(b))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		check(r.Uint64())
		// Mostly plain words: bytes from 0x1e to 0x7f.
		var b [8]byte
		for i := range b {
			b[i] = byte(0x1e + r.IntN(0x62))
		}
		check(binary.LittleEndian.Uint64(b[:]))
	}
}
