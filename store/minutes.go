package store

import (
	"encoding/json"
	"fmt"
)

// Add adds o's counts to m's, bucket by bucket for the latency (a
// longer list of buckets keeps its tail).
func (m *MinuteStats) Add(o MinuteStats) {
	m.Received += o.Received
	m.Duplicates += o.Duplicates
	m.Rejected += o.Rejected
	m.Refused += o.Refused
	m.Delivered += o.Delivered
	m.Failed += o.Failed
	m.Dead += o.Dead
	for i, n := range o.AckBuckets {
		if i < len(m.AckBuckets) {
			m.AckBuckets[i] += n
		} else {
			m.AckBuckets = append(m.AckBuckets, n)
		}
	}
}

// EncodeBuckets and DecodeBuckets are how the backends keep
// MinuteStats.AckBuckets: a JSON array of counts.
func EncodeBuckets(b []int64) string {
	if len(b) == 0 {
		return "[]"
	}
	out, _ := json.Marshal(b) // integers: cannot fail
	return string(out)
}

// DecodeBuckets reads what EncodeBuckets wrote.
func DecodeBuckets(s string) ([]int64, error) {
	var b []int64
	if err := json.Unmarshal([]byte(s), &b); err != nil {
		return nil, fmt.Errorf("latency buckets %q: %w", s, err)
	}
	return b, nil
}
