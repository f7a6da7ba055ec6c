package receiver

import "sync/atomic"

// smallBodyBytes is the largest body that may use the whole memory budget.
// Sent's webhooks are a few KiB: larger bodies, and rejections waiting to
// be kept, may fill only three quarters of it, so that a flood of large
// bodies or of rejections leaves room for them.
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
