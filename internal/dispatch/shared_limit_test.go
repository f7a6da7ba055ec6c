package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// arrivals is an app that notes when (real time) each request arrived,
// and answers what answer says (nil: 200).
type arrivals struct {
	mu     sync.Mutex
	at     []time.Time
	answer func(n int, w http.ResponseWriter) bool // true: answered
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	n := len(a.at)
	answer := a.answer
	a.mu.Unlock()
	if answer != nil && answer(n, w) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (a *arrivals) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.at)
}

// busiest is the most arrivals within any window of length w.
func busiest(at []time.Time, w time.Duration) int {
	slices.SortFunc(at, time.Time.Compare)
	most, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// sharedRun stores n events for one destination "app" on a fresh
// PostgreSQL schema, then delivers them to app with instances
// dispatchers (each its own store, as separate serve processes have)
// under policy, until every delivery succeeded. Each dispatcher claims at
// most 16 at a time, so that all of them take part.
func sharedRun(t *testing.T, instances, n int, policy dispatch.Policy, app http.Handler) {
	t.Helper()
	ctx := context.Background()
	u := pgtest.URL(t)
	srv := httptest.NewServer(app)
	defer srv.Close()
	stores := make([]*postgres.Store, instances)
	for i := range stores {
		st, err := postgres.Open(ctx, u, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	for i := range n {
		ev := storetest.NewEvent("sent", fmt.Sprint("s", i))
		ev.Destinations = []string{"app"}
		if _, err := stores[0].Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	dest, err := httpdest.New(httpdest.Config{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	for _, st := range stores {
		d, err := dispatch.New(dispatch.Config{
			Store: st, MaxInFlight: 16,
			Routes: []dispatch.Route{{Name: "app", Destination: dest, Policy: policy}},
			Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		running.Go(func() { d.Run(runCtx) })
	}
	defer func() { cancel(); running.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		s, err := stores[0].Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Deliveries[store.DeliverySucceeded] == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: %v", s.Deliveries)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Three instances on one PostgreSQL share a destination's rate limit: the
// app never sees more than the rate (+5 %) within a second, where each
// instance pacing itself would send three times the rate.
func TestSharedRateLimitHoldsAcrossInstances(t *testing.T) {
	pgtest.URL(t) // skips without PostgreSQL
	t.Parallel()
	app := &arrivals{}
	sharedRun(t, 3, 400, dispatch.Policy{Rate: dispatch.Rate{Events: 100, Per: time.Second}}, app)
	got := app.times()
	// The bound: at most 105 in a second at 100/s. The starts keep
	// within 102 (docs/destinations.md); the rest is the requests' own
	// jitter on their way to the app (53 at 50/s seen under -race).
	if most := busiest(got, time.Second); most > 105 {
		t.Errorf("%d deliveries within one second at 100/s shared by three instances", most)
	}
	if len(got) != 400 {
		t.Errorf("%d requests for 400 deliveries", len(got))
	}
}

// A 429 with Retry-After answered to one instance holds the destination
// for every instance: once the others have read the hold (within their
// IdlePoll, 1s), none sends anything before it ends.
func TestSharedRetryAfterHoldsEveryInstance(t *testing.T) {
	pgtest.URL(t)
	t.Parallel()
	var answeredAt time.Time
	app := &arrivals{answer: func(n int, w http.ResponseWriter) bool {
		if n != 20 {
			return false
		}
		answeredAt = time.Now() // under app.mu
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}}
	sharedRun(t, 3, 300, dispatch.Policy{Rate: dispatch.Rate{Events: 100, Per: time.Second}}, app)
	app.mu.Lock()
	from, until := answeredAt.Add(1100*time.Millisecond), answeredAt.Add(3*time.Second)
	app.mu.Unlock()
	var during int
	for _, at := range app.times() {
		if at.After(from) && at.Before(until) {
			during++
		}
	}
	if during > 0 {
		t.Errorf("%d requests between 1.1s and 3s after a Retry-After: 3", during)
	}
}

// overlaps is an app that takes a while over each request and notes the
// most requests it had in flight at once.
type overlaps struct {
	mu             sync.Mutex
	now, most, all int
	first, last    time.Time
	takes          time.Duration
}

func (o *overlaps) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	o.mu.Lock()
	o.now++
	o.all++
	o.most = max(o.most, o.now)
	if o.first.IsZero() {
		o.first = time.Now()
	}
	o.mu.Unlock()
	time.Sleep(o.takes)
	o.mu.Lock()
	o.now--
	o.last = time.Now()
	o.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Three instances on one PostgreSQL share a destination's concurrency set
// explicitly: the app, 20 ms a request, never has more than 4 requests in
// flight at once, where each instance bounding itself would let 12 in.
func TestSharedConcurrencyHoldsAcrossInstances(t *testing.T) {
	pgtest.URL(t)
	t.Parallel()
	app := &overlaps{takes: 20 * time.Millisecond}
	sharedRun(t, 3, 240, dispatch.Policy{Concurrency: 4}, app)
	app.mu.Lock()
	defer app.mu.Unlock()
	// 240 × 20 ms over 4 places take 1.2 s at the least.
	t.Logf("%d requests in %s, at most %d in flight at once", app.all, app.last.Sub(app.first).Round(time.Millisecond), app.most)
	if app.most > 4 {
		t.Errorf("%d requests in flight at once with concurrency 4 shared by three instances", app.most)
	}
	if app.all != 240 {
		t.Errorf("%d requests for 240 deliveries", app.all)
	}
}
