package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	store *sqlite.Store
	clock *clock.Manual
	disp  *dispatch.Dispatcher
	stop  func()
	// patience bounds how long (real time) drive waits; 0: 20s.
	patience time.Duration
}

// setup runs a dispatcher over a real SQLite store on a manual clock.
func setup(t *testing.T, routes []dispatch.Route, tweak ...func(*dispatch.Config)) *harness {
	t.Helper()
	return setupAt(t, filepath.Join(t.TempDir(), "h.db"), routes, tweak...)
}

func setupAt(t *testing.T, path string, routes []dispatch.Route, tweak ...func(*dispatch.Config)) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := clock.NewManual(t0)
	// A lease far longer than any test: drive jumps the manual clock while
	// a real attempt runs, and must not expire its lease by doing so.
	cfg := dispatch.Config{Store: st, Routes: routes, Clock: m, Owner: "test", Lease: 24 * time.Hour, Logger: slog.New(slog.DiscardHandler)}
	for _, f := range tweak {
		f(&cfg)
	}
	d, err := dispatch.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	h := &harness{store: st, clock: m, disp: d}
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done; st.Close() }) }
	t.Cleanup(h.stop)
	return h
}

// exact is a backoff without jitter: 2s, 4s, 8s, …
var exact = dispatch.Backoff{Initial: 2 * time.Second, Max: time.Hour, RandFunc: func() float64 { return 0.999999999 }}

func (h *harness) append(t *testing.T, key, typ string) *store.NewEvent {
	t.Helper()
	ev := storetest.NewEvent("sent", key)
	ev.Type = typ
	ev.ReceivedAt = h.clock.Now()
	ev.Destinations = h.disp.Destinations(&ev.EventData)
	if _, err := h.store.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	h.disp.Notify()
	return ev
}

// drive moves the manual clock from one waiter to the next until cond
// holds: a retry due in an hour takes no time.
func (h *harness) drive(t *testing.T, what string, cond func() bool) {
	t.Helper()
	patience := h.patience
	if patience == 0 {
		patience = 20 * time.Second
	}
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s at virtual %s", what, h.clock.Now().Sub(t0))
		}
		time.Sleep(time.Millisecond) // let the dispatcher reach its next wait
		if at, ok := h.clock.NextWaiter(); ok {
			h.clock.Set(at)
		}
	}
}

func (h *harness) deliveries(t *testing.T, eventID string) []store.Delivery {
	t.Helper()
	ds, err := h.store.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (h *harness) statusIs(t *testing.T, eventID string, status store.DeliveryStatus) func() bool {
	return func() bool {
		ds := h.deliveries(t, eventID)
		return len(ds) == 1 && ds[0].Status == status
	}
}

func (h *harness) attempts(t *testing.T, eventID string) []store.Attempt {
	t.Helper()
	ds := h.deliveries(t, eventID)
	if len(ds) != 1 {
		t.Fatalf("%d deliveries for %s", len(ds), eventID)
	}
	as, err := h.store.ListAttempts(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func outcomes(as []store.Attempt) string {
	s := ""
	for _, a := range as {
		s += string(a.Outcome) + " "
	}
	return s
}

func TestTemporaryFailuresBackOffThenSucceed(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		if calls.Add(1) <= 3 {
			return errors.New("503 from the app")
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact}}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))

	as := h.attempts(t, ev.ID)
	if outcomes(as) != "temporary temporary temporary succeeded " {
		t.Fatalf("attempts = %s", outcomes(as))
	}
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		gap := as[i+1].StartedAt.Sub(as[i].StartedAt)
		if gap < want-time.Millisecond || gap > want+time.Second {
			t.Errorf("wait before attempt %d = %s, want %s", i+2, gap, want)
		}
	}
	if as[0].Error != "503 from the app" || as[3].Attempt != 4 {
		t.Errorf("attempt records = %+v", as)
	}
	if d := h.deliveries(t, ev.ID)[0]; d.Attempts != 4 {
		t.Errorf("attempts spent = %d, want 4", d.Attempts)
	}
}

func TestPermanentFailureIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		return destination.WithResult(destination.Permanent(errors.New("400 Bad Request")), destination.Result{StatusCode: 400, Response: "no"})
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "dead", h.statusIs(t, ev.ID, store.DeliveryDead))
	as := h.attempts(t, ev.ID)
	if len(as) != 1 || as[0].Outcome != store.OutcomePermanent || as[0].StatusCode != 400 || as[0].Response != "no" {
		t.Errorf("attempts = %+v", as)
	}
}

func TestAttemptsExhaustedIsDead(t *testing.T) {
	t.Parallel()
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error { return errors.New("down") })
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{MaxAttempts: 3, Retry: exact}}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "dead", h.statusIs(t, ev.ID, store.DeliveryDead))
	as := h.attempts(t, ev.ID)
	if len(as) != 3 || as[2].Error != "attempts exhausted (3): down" {
		t.Errorf("attempts = %+v", as)
	}
	// Each failure is labelled for what it caused: the last one, death.
	for i, want := range []store.AttemptOutcome{store.OutcomeTemporary, store.OutcomeTemporary, store.OutcomeDead} {
		if i < len(as) && as[i].Outcome != want {
			t.Errorf("attempt #%d outcome = %s, want %s", as[i].Attempt, as[i].Outcome, want)
		}
	}
}

func TestSnoozeAndRetryAfter(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		switch calls.Add(1) {
		case 1, 2:
			return destination.Snooze(time.Minute)
		case 3:
			return destination.RetryAfter(90*time.Second, errors.New("429 Too Many Requests"))
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact}}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	as := h.attempts(t, ev.ID)
	if outcomes(as) != "snoozed snoozed temporary succeeded " {
		t.Fatalf("attempts = %s", outcomes(as))
	}
	if gap := as[1].StartedAt.Sub(as[0].StartedAt); gap < time.Minute {
		t.Errorf("snooze waited %s, want a minute", gap)
	}
	if gap := as[3].StartedAt.Sub(as[2].StartedAt); gap < 90*time.Second {
		t.Errorf("Retry-After 90s waited %s", gap)
	}
	if d := h.deliveries(t, ev.ID)[0]; d.Attempts != 2 {
		t.Errorf("attempts spent = %d, want 2 (snoozes are free)", d.Attempts)
	}
}

func TestPanicIsTemporary(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		if calls.Add(1) == 1 {
			panic("nil map")
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact}}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	as := h.attempts(t, ev.ID)
	if len(as) != 2 || as[0].Outcome != store.OutcomeTemporary || len(as[0].Error) < 30 || as[0].Error[:30] != "destination panicked: nil map\n" {
		t.Errorf("attempts = %+v", as)
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		if calls.Add(1) == 1 {
			<-ctx.Done() // hangs until the attempt's timeout
			return ctx.Err()
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Timeout: 50 * time.Millisecond, Retry: exact}}})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	as := h.attempts(t, ev.ID)
	if len(as) != 2 || as[0].Outcome != store.OutcomeTemporary || as[0].Error != context.DeadlineExceeded.Error() {
		t.Errorf("attempts = %+v", as)
	}
}

func TestRoutesFilterByType(t *testing.T) {
	t.Parallel()
	var msgs, all atomic.Int32
	h := setup(t, []dispatch.Route{
		{Name: "messages", Types: []string{"message.*"}, Destination: destination.Func(func(context.Context, *destination.Delivery) error { msgs.Add(1); return nil })},
		{Name: "all", Destination: destination.Func(func(context.Context, *destination.Delivery) error { all.Add(1); return nil })},
	})
	if got := fmt.Sprint(h.disp.Destinations(&store.EventData{Type: "template.approved"})); got != "[all]" {
		t.Errorf("template.approved goes to %s", got)
	}
	h.append(t, "a", "message.sent")
	h.append(t, "b", "template.approved")
	h.drive(t, "three deliveries", func() bool { return msgs.Load() == 1 && all.Load() == 2 })
}

// A worker that claimed a delivery and died leaves it in flight; once the
// lease expires another dispatcher delivers it, and the lost attempt counts.
func TestExpiredLeaseIsDeliveredAgain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := storetest.NewEvent("sent", "crash")
	ev.ReceivedAt = t0
	ev.Destinations = []string{"app"}
	if _, err := st.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if c, err := st.Claim(context.Background(), store.ClaimParams{Owner: "crashed", Now: t0, Lease: time.Minute, Limit: 1}); err != nil || len(c) != 1 {
		t.Fatalf("the crashed worker's claim: %v %v", c, err)
	}
	st.Close()

	var delivered atomic.Int32
	dest := destination.Func(func(context.Context, *destination.Delivery) error { delivered.Add(1); return nil })
	h := setupAt(t, path, []dispatch.Route{{Name: "app", Destination: dest}})
	h.drive(t, "redelivery", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	if delivered.Load() != 1 {
		t.Errorf("delivered %d times", delivered.Load())
	}
	as := h.attempts(t, ev.ID)
	if outcomes(as) != "lease_expired succeeded " || as[1].StartedAt.Before(t0.Add(time.Minute)) {
		t.Errorf("attempts = %+v", as)
	}
}

func TestUnknownDestinationIsDeadWithReason(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := storetest.NewEvent("sent", "gone")
	ev.ReceivedAt = t0
	ev.Destinations = []string{"removed-from-config"}
	if _, err := st.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h := setupAt(t, path, []dispatch.Route{{Name: "app", Destination: destination.Func(func(context.Context, *destination.Delivery) error { return nil })}})
	h.drive(t, "dead", h.statusIs(t, ev.ID, store.DeliveryDead))
	if as := h.attempts(t, ev.ID); len(as) != 1 || as[0].Error != `destination "removed-from-config" is not configured (retry it once it is)` {
		t.Errorf("attempts = %+v", as)
	}
}

// A dead delivery, retried by an operator, is delivered.
func TestRetryOfDeadDelivery(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	dest := destination.Func(func(context.Context, *destination.Delivery) error {
		if !healthy.Load() {
			return destination.Permanent(errors.New("410 Gone"))
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest}})
	ev := h.append(t, "k", "message.read")
	h.drive(t, "dead", h.statusIs(t, ev.ID, store.DeliveryDead))
	healthy.Store(true)
	n, err := h.store.Requeue(context.Background(), store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}}, h.clock.Now())
	if err != nil || n != 1 {
		t.Fatalf("requeue = %d, %v", n, err)
	}
	h.disp.Notify()
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	if outcomes(h.attempts(t, ev.ID)) != "permanent succeeded " {
		t.Errorf("attempts = %s", outcomes(h.attempts(t, ev.ID)))
	}
}

// Concurrency bounds the attempts in flight to one destination.
func TestConcurrencyIsBounded(t *testing.T) {
	t.Parallel()
	var (
		now, peak atomic.Int32
		done      atomic.Int32
		release   = make(chan struct{})
	)
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		now.Add(-1)
		done.Add(1)
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Concurrency: 3}}})
	for i := range 12 {
		h.append(t, fmt.Sprint("c", i), "message.sent")
	}
	h.drive(t, "three in flight", func() bool { return now.Load() == 3 })
	close(release)
	h.drive(t, "all delivered", func() bool { return done.Load() == 12 })
	if peak.Load() != 3 {
		t.Errorf("peak concurrency = %d, want 3", peak.Load())
	}
}

// claimCounter counts the claims made of its store.
type claimCounter struct {
	store.Store
	n *atomic.Int64
}

func (c claimCounter) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	c.n.Add(1)
	return c.Store.Claim(ctx, p)
}

// A destination whose concurrency is set and whose places are all taken,
// its backlog due, does not make the dispatcher claim in a loop: it
// sleeps until a place is freed, a wake-up or IdlePoll (on the manual
// clock, which only the test moves). There is no signal of a loop that
// does not start: the claims are counted over a fifth of a second of real
// time, in which a loop makes hundreds.
func TestFullConcurrencyWaitsForAPlace(t *testing.T) {
	t.Parallel()
	var (
		started = make(chan struct{}, 4)
		release = make(chan struct{})
		done    atomic.Int32
		claims  atomic.Int64
	)
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		started <- struct{}{}
		<-release
		done.Add(1)
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Concurrency: 1}}},
		func(c *dispatch.Config) { c.Store = claimCounter{Store: c.Store, n: &claims} })
	for i := range 3 {
		h.append(t, fmt.Sprint("f", i), "message.sent")
	}
	<-started
	before := claims.Load()
	time.Sleep(200 * time.Millisecond)
	if n := claims.Load() - before; n > 3 {
		t.Errorf("%d claims in 200 ms while the one place was taken", n)
	}
	close(release)
	h.drive(t, "all delivered", func() bool { return done.Load() == 3 })
}

// Shutting down lets an attempt in flight finish and be recorded.
func TestRunDrainsOnShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		close(started)
		<-release
		return nil
	})
	path := filepath.Join(t.TempDir(), "h.db")
	h := setupAt(t, path, []dispatch.Route{{Name: "app", Destination: dest}})
	ev := h.append(t, "k", "message.sent")
	<-started
	stopped := make(chan struct{})
	go func() { h.stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while an attempt was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-stopped
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: ev.ID})
	if err != nil || len(ds) != 1 || ds[0].Status != store.DeliverySucceeded {
		t.Errorf("after shutdown: %+v %v", ds, err)
	}
}

// A real HTTP destination that hangs: the attempt times out, is recorded as
// temporary, and the next attempt (once the app answers) succeeds.
func TestHangingHTTPDestinationTimesOutThenRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}))
	defer app.Close()
	defer close(release)
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Timeout: 100 * time.Millisecond, Retry: exact}}})
	ev := h.append(t, "hang", "message.delivered")
	h.drive(t, "success", h.statusIs(t, ev.ID, store.DeliverySucceeded))
	as := h.attempts(t, ev.ID)
	// On a loaded machine an answer can take longer than the 100ms
	// timeout too, so more than one attempt may time out before one
	// succeeds.
	if o := outcomes(as); !strings.HasPrefix(o, "temporary ") || strings.Trim(strings.ReplaceAll(o, "temporary ", ""), " ") != "succeeded" ||
		as[len(as)-1].StatusCode != 200 {
		t.Fatalf("attempts = %+v", as)
	}
	// The timeout is what ended the first attempt: its error says so. (Not
	// its Duration: the deadline is set a moment before the clock starts.)
	if !strings.Contains(as[0].Error, "deadline exceeded") && !strings.Contains(as[0].Error, "timed out after 100ms") {
		t.Errorf("timed-out attempt = %+v", as[0])
	}
}

// shutdownDuringClaim is a store whose Claim commits and then finds that
// shutdown began meanwhile: like the SQLite store, it then answers the
// caller's ctx.Err() although the claim is committed.
type shutdownDuringClaim struct {
	*sqlite.Store
	shutdown func()
	once     sync.Once
}

func (s *shutdownDuringClaim) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claim, error) {
	claims, err := s.Store.Claim(context.WithoutCancel(ctx), p)
	if len(claims) > 0 {
		s.once.Do(s.shutdown)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return claims, err
}

// A claim that commits as shutdown begins is still run: its deliveries are
// not left leased to a stopped process until the lease expires.
func TestClaimCommittedAtShutdownIsRun(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ev := storetest.NewEvent("sent", "k")
	ev.Type = "message.sent"
	ev.ReceivedAt = t0
	ev.Destinations = []string{"app"}
	if _, err := st.Append(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wrapped := &shutdownDuringClaim{Store: st, shutdown: cancel}
	var delivered atomic.Int32
	d, err := dispatch.New(dispatch.Config{
		Store: wrapped, Clock: clock.NewManual(t0), Owner: "test", Lease: 24 * time.Hour,
		Logger: slog.New(slog.DiscardHandler),
		Routes: []dispatch.Route{{Name: "app", Destination: destination.Func(func(context.Context, *destination.Delivery) error {
			delivered.Add(1)
			return nil
		})}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Run(ctx)
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: ev.ID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %+v, %v", ds, err)
	}
	if ds[0].Status != store.DeliverySucceeded || delivered.Load() != 1 {
		t.Errorf("after a claim committed at shutdown: status %s, delivered %d times; want succeeded once", ds[0].Status, delivered.Load())
	}
}

// OnAttempt hears of every attempt once it is recorded, with the status
// decided, when the next attempt is due, and the destination's own error.
func TestOnAttemptReportsEachRecordedAttempt(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen []dispatch.Attempted
	)
	appErr := errors.New("the app is down")
	var calls atomic.Int32
	dest := destination.Func(func(ctx context.Context, d *destination.Delivery) error {
		switch calls.Add(1) {
		case 1:
			return appErr
		case 2:
			return destination.Permanent(errors.New("400 bad request"))
		}
		return nil
	})
	h := setup(t, []dispatch.Route{{Name: "app", Destination: dest, Policy: dispatch.Policy{Retry: exact}}},
		func(c *dispatch.Config) {
			c.OnAttempt = func(a dispatch.Attempted) {
				mu.Lock()
				seen = append(seen, a)
				mu.Unlock()
			}
		})
	ev := h.append(t, "k1", "message.delivered")
	h.drive(t, "dead", h.statusIs(t, ev.ID, store.DeliveryDead))
	h.drive(t, "two reports", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 2 })

	mu.Lock()
	defer mu.Unlock()
	first, second := seen[0], seen[1]
	if first.Route != "app" || first.Event == nil || first.Event.ID != ev.ID || !errors.Is(first.Err, appErr) || first.RecordErr != nil {
		t.Errorf("first report = %+v", first)
	}
	if c, wait := first.Completion, first.Completion.NextAttemptAt.Sub(first.Completion.Now); c.Status != store.DeliveryPending ||
		c.Attempt.Attempt != 1 || wait < 1900*time.Millisecond || wait > 2*time.Second {
		t.Errorf("first completion = %+v (next in %s), want pending, due again in 2s (the exact backoff)", c, wait)
	}
	if c := second.Completion; c.Status != store.DeliveryDead || c.Attempt.Outcome != store.OutcomePermanent || c.Attempt.Attempt != 2 {
		t.Errorf("second completion = %+v, want dead by a permanent answer", c)
	}
}
