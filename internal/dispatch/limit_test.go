package dispatch_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// recorder is an HTTP app that notes when, on the dispatcher's clock,
// each request arrived, by the path it was sent to.
type recorder struct {
	mu       sync.Mutex
	clock    *clock.Manual
	arrivals map[string][]time.Time
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	rec.arrivals[r.URL.Path] = append(rec.arrivals[r.URL.Path], rec.clock.Now())
	rec.mu.Unlock()
}

func (rec *recorder) at(path string) []time.Time {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.arrivals[path])
}

func (rec *recorder) route(t *testing.T, name string, url string, p dispatch.Policy) dispatch.Route {
	t.Helper()
	dest, err := httpdest.New(httpdest.Config{URL: url + "/" + name})
	if err != nil {
		t.Fatal(err)
	}
	return dispatch.Route{Name: name, Types: []string{name + ".*"}, Destination: dest, Policy: p}
}

// With rate 20/s, an app sent 30 events at once receives at most 20 in
// the first second (of the dispatcher's clock), and the last no sooner
// than 29 intervals after the first.
func TestRateLimitSpacesDeliveries(t *testing.T) {
	t.Parallel()
	rec := &recorder{arrivals: map[string][]time.Time{}}
	app := httptest.NewServer(rec)
	defer app.Close()
	route := rec.route(t, "app", app.URL, dispatch.Policy{Rate: dispatch.Rate{Events: 20, Per: time.Second}})
	h := setup(t, []dispatch.Route{route})
	rec.mu.Lock()
	rec.clock = h.clock
	rec.mu.Unlock()
	for i := range 30 {
		h.append(t, fmt.Sprint("r", i), "app.sent")
	}
	h.drive(t, "30 arrivals", func() bool { return len(rec.at("/app")) == 30 })
	got := rec.at("/app")
	first := 0
	for _, a := range got {
		if a.Before(t0.Add(time.Second)) {
			first++
		}
	}
	if first > 20 {
		t.Errorf("%d deliveries arrived in the first second at 20/s", first)
	}
	if last := slices.MaxFunc(got, time.Time.Compare); last.Before(t0.Add(29 * 50 * time.Millisecond)) {
		t.Errorf("30 deliveries at 20/s all arrived within %s", last.Sub(t0))
	}
}

// A 429 with Retry-After: 2 from the app holds every delivery of that
// destination for 2s, not only the one answered, and no other
// destination's.
func TestRetryAfterHoldsTheDestination(t *testing.T) {
	t.Parallel()
	rec := &recorder{arrivals: map[string][]time.Time{}}
	var slowFirst sync.Once
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.ServeHTTP(w, r)
		if r.URL.Path == "/app" {
			slowFirst.Do(func() {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			})
		}
	}))
	defer app.Close()
	routes := []dispatch.Route{
		rec.route(t, "app", app.URL, dispatch.Policy{Concurrency: 1, Retry: exact}),
		rec.route(t, "other", app.URL, dispatch.Policy{Concurrency: 1}),
	}
	h := setup(t, routes)
	rec.mu.Lock()
	rec.clock = h.clock
	rec.mu.Unlock()
	var evs []*store.NewEvent
	for i := range 4 {
		evs = append(evs, h.append(t, fmt.Sprint("a", i), "app.sent"))
	}
	other := h.append(t, "o", "other.sent")
	// Without moving the clock: the other destination is delivered while
	// app is held.
	deadline := time.Now().Add(20 * time.Second)
	for len(rec.at("/other")) == 0 || len(rec.at("/app")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("other destination not delivered while app is held (arrivals %v)", rec.at("/other"))
		}
		time.Sleep(time.Millisecond)
	}
	h.drive(t, "every delivery", func() bool {
		for _, ev := range append(evs, other) {
			if !h.statusIs(t, ev.ID, store.DeliverySucceeded)() {
				return false
			}
		}
		return true
	})
	got := rec.at("/app")
	if len(got) != 5 || !got[0].Equal(t0) {
		t.Fatalf("app arrivals at %v, want the 429 at +0 and four more", got)
	}
	for i, a := range got[1:] {
		if a.Before(t0.Add(2 * time.Second)) {
			t.Errorf("app request %d arrived at +%s, within the 2s Retry-After", i+2, a.Sub(t0))
		}
	}
	if o := rec.at("/other"); len(o) != 1 || !o[0].Equal(t0) {
		t.Errorf("other destination's arrivals at %v, want one at +0", o)
	}
}

// Workers that wake late for their slots (the clock jumps a second, as a
// stalled machine's timers fire late) do not all start at once: each takes
// a new slot, and the attempts stay a spacing apart.
func TestLateWakeUpsKeepTheSpacing(t *testing.T) {
	t.Parallel()
	rec := &recorder{arrivals: map[string][]time.Time{}}
	app := httptest.NewServer(rec)
	defer app.Close()
	route := rec.route(t, "app", app.URL, dispatch.Policy{Rate: dispatch.Rate{Events: 10, Per: time.Second}})
	h := setup(t, []dispatch.Route{route})
	rec.mu.Lock()
	rec.clock = h.clock
	rec.mu.Unlock()
	for i := range 10 {
		h.append(t, fmt.Sprint("l", i), "app.sent")
	}
	// The first goes at once; the nine others wait for +100ms … +900ms.
	deadline := time.Now().Add(20 * time.Second)
	for {
		at, ok := h.clock.NextWaiter()
		if len(rec.at("/app")) == 1 && ok && at.Equal(t0.Add(100*time.Millisecond)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers never waited for their slots (arrivals %v)", rec.at("/app"))
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let every worker reach its wait
	h.clock.Set(t0.Add(time.Second))
	// From there the clock moves in steps of 5ms, each after the workers
	// had time to take their new slots, so that no other wake-up is late.
	for len(rec.at("/app")) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d arrivals", len(rec.at("/app")))
		}
		time.Sleep(5 * time.Millisecond)
		h.clock.Advance(5 * time.Millisecond)
	}
	got := rec.at("/app")
	slices.SortFunc(got, time.Time.Compare)
	for i := 1; i < len(got); i++ {
		if gap := got[i].Sub(got[i-1]); gap < 100*time.Millisecond-20*time.Millisecond {
			t.Errorf("arrivals %d and %d only %s apart at 10/s (at +%s)", i, i+1, gap, got[i].Sub(t0))
		}
	}
}
