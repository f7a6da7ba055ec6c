package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// An app down for an hour (simulated): with the breaker, no delivery
// dies of the outage, probes go one at a time with gaps growing to 15s,
// and every event is delivered once the app is back, the first soon
// after its return (15s, the cap, on a real clock).
func TestBreakerHoldsDeliveriesThroughALongOutage(t *testing.T) {
	t.Parallel()
	const events = 20
	// An hour of 15s probes (some 240) shows the steady state; six took
	// over two minutes under -race on a loaded machine.
	outage := time.Hour
	var (
		mu sync.Mutex
		// Attempts in flight, and the most at once once the breaker had
		// opened and every attempt claimed before had ended: its probes.
		running int
		most    int
		starts  []time.Time
		probes  []time.Time
		h       *harness
		opened  bool
		back    time.Time // the first attempt once the app is back
	)
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		mu.Lock()
		now := h.clock.Now()
		running++
		down := now.Before(t0.Add(outage))
		if opened && down {
			most = max(most, running)
			probes = append(probes, now)
		}
		if down {
			starts = append(starts, now)
		} else if back.IsZero() {
			back = now
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		if down {
			return errors.New("503 from the app")
		}
		return nil
	})
	h = setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact}}},
		// The harness jumps the clock to the next waiter: while a probe
		// runs, the dispatcher's is its idle poll, so gaps may exceed the
		// cap by up to one.
		func(c *dispatch.Config) { c.IdlePoll = 5 * time.Second })
	h.patience = time.Minute
	var ids []string
	for i := range events {
		ids = append(ids, h.append(t, fmt.Sprintf("k%d", i), "message.delivered").ID)
	}
	// The first claims fail until ten failures open the breaker. Probes
	// are the attempts that start once it is open and nothing claimed
	// before is left: a claim made before it opened (under a loaded
	// machine the clock can reach retries before the tenth failure is
	// noted) may still run beside a probe.
	h.drive(t, "the breaker to open with nothing in flight", func() bool {
		if _, ok := h.disp.OpenBreakers()["app"]; !ok {
			return false
		}
		ds, err := h.store.ListDeliveries(context.Background(), store.DeliveryFilter{Status: store.DeliveryInFlight})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ds) > 0 || running > 0 {
			return false
		}
		opened = true
		return true
	})
	h.drive(t, "every delivery", func() bool {
		for _, id := range ids {
			if !h.statusIs(t, id, store.DeliverySucceeded)() {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if d := h.deliveries(t, id)[0]; d.Attempts >= 15 {
			t.Errorf("delivery of %s spent %d attempts", id, d.Attempts)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 1 {
		t.Errorf("%d probes ran at once", most)
	}
	t.Logf("%d probes in %s", len(probes), outage)
	if len(probes) < 5 || len(probes) > int(outage/(15*time.Second))+20 {
		t.Fatalf("%d probes in %s", len(probes), outage)
	}
	// Gaps grow from a second towards the cap (15s). The harness may
	// jump the clock to the idle poll before a probe's end is noted, so
	// the check is on the first gap and the mean of the last ten.
	first := probes[1].Sub(probes[0])
	late := probes[len(probes)-1].Sub(probes[len(probes)-11]) / 10
	if first > 10*time.Second || late < 10*time.Second || late > 25*time.Second {
		t.Errorf("probe gaps: first %s, mean of the last ten %s; want them growing to about 15s", first, late)
	}
	// The cap, plus the harness's jumps to an idle poll while a probe
	// runs (23s seen under -race); the 5-minute cap gave minutes.
	if wait := back.Sub(t0.Add(outage)); wait > 30*time.Second {
		t.Errorf("the first attempt once the app was back came %s after its return; want at most 30s (the probes' 15s cap, and the harness's idle polls)", wait)
	}
}
