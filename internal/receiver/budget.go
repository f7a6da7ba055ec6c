package receiver

import "sync/atomic"

// smallBodyBytes is the largest body that may use the whole memory budget.
// Sent's webhooks are a few KiB: anything larger may fill only three
// quarters of it, so a flood of large bodies leaves room for them.
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

// reserve takes n bytes for something of whole bytes in all, and says
// whether they fit.
func (b *budget) reserve(n, whole int64) bool {
	ceiling := b.large
	if whole <= smallBodyBytes {
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
