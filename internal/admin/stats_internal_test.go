package admin

import (
	"errors"
	"testing"
	"time"
)

func TestPercentileInterpolatesWithinTheBucket(t *testing.T) {
	t.Parallel()
	bounds := []float64{.001, .002, .005}
	cases := []struct {
		perBucket []float64
		q, want   float64
	}{
		{[]float64{0, 0, 0}, .5, 0},
		{[]float64{10, 0, 0}, .5, 0.5},    // half-way into (0, 1 ms]
		{[]float64{5, 5, 0}, .9, 1.8},     // 80% of the way into (1, 2 ms]
		{[]float64{0, 0, 4}, .99, 4.97},   // near the top of (2, 5 ms]
		{[]float64{1, 0, 99}, .01, 1},     // the first bucket's top
		{[]float64{50, 50, 0}, .5, 1},     // exactly the first bucket's count
		{[]float64{0, 10, 0}, 1.0, 2.0},   // everything: the bucket's top
		{[]float64{2, 0, 2}, .75, 3.5},    // skips the empty bucket
		{[]float64{0, 0, 1}, .5, 3.5},     // one answer in (2, 5 ms]
		{[]float64{1, 1, 1}, .999, 4.991}, // the last bucket
	}
	for _, c := range cases {
		if got := percentile(bounds, c.perBucket, c.q); got != c.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", c.perBucket, c.q, got, c.want)
		}
	}
}

// The outage watch starts counting at the first 503 that nothing accepted
// beside, keeps counting while the idle probe fails, and stops at the
// first accepted request or passing probe.
func TestOutageCountsFromTheFirstRefusal(t *testing.T) {
	t.Parallel()
	var o outage
	t0 := time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	probeErr := error(nil)
	probes := 0
	probe := func() error { probes++; return probeErr }
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	o.observe(at(0), 10, 0, probe) // the first look only takes the totals
	o.observe(at(1), 12, 0, probe) // accepting
	if d := o.duration(at(1)); d != 0 {
		t.Fatalf("accepting, yet down for %s", d)
	}
	o.observe(at(2), 12, 3, probe) // refusing only
	o.observe(at(3), 12, 5, probe)
	if d := o.duration(at(10)); d != 8*time.Second {
		t.Fatalf("down for %s at 10s, want 8s (since the first refusal at 2s)", d)
	}
	probeErr = errors.New("disk full")
	before := probes
	o.observe(at(11), 12, 5, probe) // no traffic: the probe decides
	if d := o.duration(at(11)); d != 9*time.Second || probes != before+1 {
		t.Fatalf("idle with a failing probe: down %s, %d probes", d, probes)
	}
	probeErr = nil
	o.observe(at(12), 12, 5, probe)
	if d := o.duration(at(12)); d != 0 {
		t.Fatalf("the probe passed, yet down for %s", d)
	}
	// Idle and up: the probe runs every idleProbe, not every look.
	o.observe(at(13), 12, 5, probe)
	if probes != before+2 {
		t.Fatalf("%d probes, want 2: idle and up, it waits %s", probes, idleProbe)
	}
}

// A subscriber that cannot keep up misses messages and is told how many.
func TestHubTellsASlowSubscriberWhatItMissed(t *testing.T) {
	t.Parallel()
	h := newHub(nil)
	s := h.subscribe()
	for i := range subscriberBuffer + 3 {
		h.publish("event", i)
	}
	for range subscriberBuffer {
		<-s.c
	}
	h.publish("event", "after")
	if m := <-s.c; m.name != "gap" || string(m.data) != `{"missed":3}` {
		t.Fatalf("first after the overflow: %s %s", m.name, m.data)
	}
	if m := <-s.c; m.name != "event" || string(m.data) != `"after"` {
		t.Fatalf("then: %s %s", m.name, m.data)
	}
}
