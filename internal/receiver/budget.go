package receiver

import (
	"sync"
	"sync/atomic"
)

// smallBodyBytes is the largest body that may use the whole memory budget.
// Sent's webhooks are a few KiB: larger bodies may fill only three quarters
// of it, so that a flood of large bodies leaves room for them.
const smallBodyBytes = 64 << 10

// firstReadBytes is what a body is given before any of it has arrived: the
// budget is counted for bytes that arrive, not for bytes declared, so a
// sender that declares a large body and trickles it holds no more than
// this until it sends more. Sent's webhooks fit in it.
const firstReadBytes = 4 << 10

// class says which ceiling of the budget a reservation is held to.
type class int

const (
	classSmall class = iota // a body of at most smallBodyBytes arriving briskly
	classLarge              // a larger body arriving briskly
	classSlow               // any body still arriving after SlowBodyAfter
)

// budget bounds the bytes held for request bodies being read and for
// rejections waiting to be kept. Reserving is one compare-and-swap and
// releasing one atomic add: it sits on the ack path.
//
// Three ceilings share one count. Small bodies may fill all of it; large
// ones three quarters, so that a flood of large bodies leaves room for
// Sent's; and a body still arriving after SlowBodyAfter grows only while the
// whole count is under half, so that senders that trickle, whatever their
// number, leave the other half to bodies that arrive at once.
type budget struct {
	used     atomic.Int64
	ceilings [3]int64
}

func newBudget(limit int64) *budget {
	return &budget{ceilings: [3]int64{
		classSmall: limit,
		classLarge: limit - limit/4,
		classSlow:  limit / 2,
	}}
}

// minBudget is the least budget that holds one body of maxBody bytes.
func minBudget(maxBody int64) int64 {
	n := (maxBody + 1) * 4 / 3
	for newBudget(n).ceilings[classLarge] < maxBody+1 {
		n++
	}
	return n
}

// fits says whether n more bytes would fit under c's ceiling now, without
// taking them.
func (b *budget) fits(n int64, c class) bool {
	return b.used.Load()+n <= b.ceilings[c]
}

// reserve takes n bytes under c's ceiling and says whether they fit. A
// reservation that does not fit never shows in the count, not even for a
// moment: many refused at once must not refuse a body that fits.
func (b *budget) reserve(n int64, c class) bool {
	for {
		u := b.used.Load()
		if u+n > b.ceilings[c] {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
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
