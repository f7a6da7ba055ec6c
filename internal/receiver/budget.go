package receiver

import (
	"sync"
	"sync/atomic"
)

// smallBodyBytes is the largest body that may use the whole memory budget.
// Sent's webhooks are a few KiB: larger bodies may fill only three quarters
// of it, so that a flood of large bodies leaves room for them.
const smallBodyBytes = 64 << 10

// budget bounds the bytes held for request bodies being read and for
// rejections waiting to be kept. Reserving and releasing are one atomic
// add each: it sits on the ack path.
type budget struct {
	used  atomic.Int64
	small int64 // the ceiling for a body of at most smallBodyBytes
	large int64 // the ceiling for anything else
}

func newBudget(limit int64) *budget {
	return &budget{small: limit, large: limit - limit/4}
}

// minBudget is the least budget that holds one body of maxBody bytes.
func minBudget(maxBody int64) int64 {
	n := (maxBody + 1) * 4 / 3
	for newBudget(n).large < maxBody+1 {
		n++
	}
	return n
}

// reserve takes n bytes, under the ceiling for small request bodies or
// for anything else, and says whether they fit.
func (b *budget) reserve(n int64, small bool) bool {
	ceiling := b.large
	if small {
		ceiling = b.small
	}
	if b.used.Add(n) > ceiling {
		b.used.Add(-n)
		return false
	}
	return true
}

// release gives back n reserved bytes.
func (b *budget) release(n int64) {
	if n != 0 {
		b.used.Add(-n)
	}
}

// bodyPool recycles the buffers of large bodies that nothing holds once
// their request is answered (rejected or refused ones), so that a flood of
// large forged requests neither allocates a buffer for each nor makes the
// garbage collector run many times a second. Buffers come in a few
// capacities: powers of two above smallBodyBytes, and the body limit's.
// Smaller bodies, and the bodies of events (the store holds them), are
// plain allocations.
type bodyPool struct {
	classes []int64
	pools   []sync.Pool // of *[]byte, one per class
}

func newBodyPool(maxBody int64) *bodyPool {
	p := &bodyPool{}
	for c := int64(2 * smallBodyBytes); c < maxBody+1; c *= 2 {
		p.classes = append(p.classes, c)
	}
	if maxBody+1 > smallBodyBytes {
		p.classes = append(p.classes, maxBody+1)
	}
	p.pools = make([]sync.Pool, len(p.classes))
	return p
}

// size is the capacity of the buffer get gives for n bytes.
func (p *bodyPool) size(n int64) int64 {
	if i := p.class(n); i >= 0 {
		return p.classes[i]
	}
	return n
}

func (p *bodyPool) class(n int64) int {
	if n <= smallBodyBytes {
		return -1
	}
	for i, c := range p.classes {
		if n <= c {
			return i
		}
	}
	return -1
}

// get returns an empty buffer of capacity size(n).
func (p *bodyPool) get(n int64) []byte {
	i := p.class(n)
	if i < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := p.pools[i].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, p.classes[i])
}

// put takes back a buffer from get that nothing holds any more.
func (p *bodyPool) put(b []byte) {
	if i := p.class(int64(cap(b))); i >= 0 && p.classes[i] == int64(cap(b)) {
		p.pools[i].Put(&b)
	}
}
