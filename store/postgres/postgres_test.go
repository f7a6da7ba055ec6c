package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// The dispatcher finds the store's LISTEN/NOTIFY wake-ups.
var _ dispatch.WorkListener = (*postgres.Store)(nil)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		u := pgtest.URL(t)
		return func(t *testing.T) store.Store {
			s, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func open(t *testing.T, u string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), u, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Instances starting at once on a new schema migrate it once: the
// advisory lock makes the others wait and find it done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 6)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), u, postgres.Options{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var versions, applied int
	err := stores[0].Pool().QueryRow(context.Background(), `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&applied, &versions)
	if err != nil {
		t.Fatal(err)
	}
	if applied != versions || applied == 0 {
		t.Errorf("schema_migrations holds %d rows for %d versions: migrated more than once", applied, versions)
	}
}

// Two installations on one database, in two schemas, never see each
// other's rows.
func TestSchemasAreSeparate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server := pgtest.ServerURL(t)
	a := open(t, pgtest.WithSchema(t, server, pgtest.Schema(t)), postgres.Options{})
	b := open(t, pgtest.WithSchema(t, server, pgtest.Schema(t)), postgres.Options{})
	ev := storetest.NewEvent("sent", "only-in-a")
	if _, err := a.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetEvent(ctx, ev.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("schema b sees schema a's event: err = %v", err)
	}
	// The same key in b is a new event there.
	if res, err := b.Append(ctx, storetest.NewEvent("sent", "only-in-a")); err != nil || res.Duplicate {
		t.Errorf("append of a's key into b = %+v, %v; want a new event", res, err)
	}
}

// A caller that gives up does not cancel the write it shares with others:
// its event is committed all the same, and so are theirs.
func TestAppendOutlivesItsCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	s := open(t, u, postgres.Options{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		given    []string
		accepted []string
	)
	for i := range 64 {
		ev := storetest.NewEvent("sent", fmt.Sprint("hangup-", i))
		wg.Go(func() {
			cctx := ctx
			if i%2 == 0 {
				c, cancel := context.WithCancel(ctx)
				cancel() // the sender hung up
				cctx = c
			}
			_, err := s.Append(cctx, ev)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				accepted = append(accepted, ev.ID)
			case errors.Is(err, context.Canceled):
				given = append(given, ev.ID)
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	wg.Wait()
	s.Close() // waits for the writes in flight
	s = open(t, u, postgres.Options{})
	for _, id := range append(accepted, given...) {
		if _, err := s.GetEvent(ctx, id); err != nil {
			t.Errorf("event %s not stored: %v", id, err)
		}
	}
	if len(accepted) < 32 {
		t.Errorf("%d appends with live callers accepted, want 32", len(accepted))
	}
}

// While the table is locked by another session, the writers cannot commit;
// once the bounded queue is full, Append fails fast with ErrBusy instead
// of piling up requests, and the store recovers when the lock goes.
func TestAppendBusyWhenQueueFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	s := open(t, u, postgres.Options{QueueSize: 4, MaxBatch: 1, Writers: 1})

	conn, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{s.Schema(), "events"}.Sanitize()+" IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var (
		wg       sync.WaitGroup
		busy     atomic.Int64
		accepted atomic.Int64
	)
	for i := range 32 {
		wg.Go(func() {
			_, err := s.Append(ctx, storetest.NewEvent("sent", fmt.Sprint("busy-", i)))
			switch {
			case errors.Is(err, store.ErrBusy):
				busy.Add(1)
			case err == nil:
				accepted.Add(1)
			default:
				t.Errorf("append: %v", err)
			}
		})
	}
	for busy.Load() < 32-5 { // 4 queued, 1 with the writer
		time.Sleep(time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if accepted.Load() != 5 {
		t.Errorf("%d appends accepted, want the 5 the queue and the writer held", accepted.Load())
	}
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "after")); err != nil {
		t.Fatalf("append after the lock was released: %v", err)
	}
}

// Text columns take neither NUL nor invalid UTF-8; an event carrying them
// (in a header, or decoded from the body) is stored, not refused, and two
// such keys stay two keys.
func TestAppendOddText(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t), postgres.Options{})
	a := storetest.NewEvent("sent", "event-id:\xff\xfe")
	a.Subject = "nul\x00inside"
	b := storetest.NewEvent("sent", "event-id:\xff\xfd")
	for _, ev := range []*store.NewEvent{a, b} {
		res, err := s.Append(ctx, ev)
		if err != nil || res.Duplicate {
			t.Fatalf("append %q = %+v, %v", ev.DedupeKey, res, err)
		}
	}
	got, err := s.GetEvent(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, a.Body) || !strings.Contains(got.Subject, "nul") {
		t.Errorf("stored event = %+v", got)
	}
	if res, err := s.Append(ctx, storetest.NewEvent("sent", "event-id:\xff\xfe")); err != nil || !res.Duplicate || res.EventID != a.ID {
		t.Errorf("same odd key again = %+v, %v; want a duplicate of %s", res, err, a.ID)
	}
}

// A read-only open fails with the same errors as on SQLite: a schema no
// serve created is store.ErrNoStore, an older or newer one a
// *store.SchemaError.
func TestOpenErrorsAreTheStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := pgtest.Schema(t)
	u := pgtest.WithSchema(t, pgtest.ServerURL(t), schema)
	ro := postgres.Options{ReadOnly: true}
	_, noStore := postgres.Open(ctx, u, ro)

	w := open(t, u, postgres.Options{})
	openAfter := func(change string) error {
		if _, err := w.Pool().Exec(ctx, change); err != nil {
			t.Fatal(err)
		}
		_, err := postgres.Open(ctx, u, ro)
		return err
	}
	older := openAfter(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`)
	newer := openAfter(`INSERT INTO schema_migrations (version, name) VALUES (1000000, 'from a newer hooklatch')`)
	storetest.CheckOpenErrors(t, "schema "+schema, noStore, older, newer)
}

// A read-only open neither creates a store nor writes to one.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	if _, err := postgres.Open(ctx, u, postgres.Options{ReadOnly: true}); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("read-only open of an empty schema: err = %v, want ErrNoStore", err)
	}
	if _, err := postgres.Open(ctx, u, postgres.Options{MustExist: true}); !errors.Is(err, store.ErrNoStore) {
		t.Fatalf("must-exist open of an empty schema: err = %v, want ErrNoStore", err)
	}
	w := open(t, u, postgres.Options{})
	ev := storetest.NewEvent("sent", "ro")
	if _, err := w.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	r := open(t, u, postgres.Options{ReadOnly: true})
	if _, err := r.GetEvent(ctx, ev.ID); err != nil {
		t.Errorf("read-only get: %v", err)
	}
	if _, err := r.Append(ctx, storetest.NewEvent("sent", "ro-2")); err == nil {
		t.Error("a read-only store took an append")
	}
	if err := r.Ready(ctx); err == nil {
		t.Error("a read-only store says it is ready for writes")
	}
}

// An instance hears of work another one added, without polling.
func TestListenForWork(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := pgtest.URL(t)
	listener := open(t, u, postgres.Options{})
	other := open(t, u, postgres.Options{})

	woken := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		listener.ListenForWork(ctx, func() { woken <- struct{}{} })
	}()
	<-woken // listening: it wakes once on start

	// Its own appends are not announced to itself.
	ev := storetest.NewEvent("sent", "own")
	ev.Destinations = []string{"app"}
	if _, err := listener.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ev = storetest.NewEvent("sent", "other")
	ev.Destinations = []string{"app"}
	if _, err := other.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up for an event another instance stored")
	}

	// A command that adds deliveries and exits at once wakes it too: its
	// announcement is sent before its store closes.
	cmd, err := postgres.Open(ctx, u, postgres.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := cmd.AddDeliveries(ctx, []string{ev.ID}, "other-app", time.Now()); err != nil || n != 1 {
		t.Fatalf("AddDeliveries = %d, %v", n, err)
	}
	cmd.Close()
	select {
	case <-woken:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up for deliveries a command added")
	}
	cancel()
	<-done
}

// Completions written together are numbered one after the other, even
// when a lease's old owner and its new one complete the same delivery at
// the same moment: the old one's is recorded and refused, the new one's
// moves the delivery on.
func TestConcurrentCompletionsOfOneDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t), postgres.Options{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const n = 20
	for i := range n {
		ev := storetest.NewEvent("sent", fmt.Sprint("both-", i))
		ev.ReceivedAt, ev.Destinations = t0, []string{"app"}
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(owner string, at time.Time) []store.Claim {
		t.Helper()
		c, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Now: at, Lease: 30 * time.Second, Limit: n})
		if err != nil || len(c) != n {
			t.Fatalf("claim by %s: %d, %v", owner, len(c), err)
		}
		return c
	}
	claim("old", t0)
	later := t0.Add(30 * time.Second)
	claims := claim("new", later) // the old lease expired: attempt #1 is lost
	var wg sync.WaitGroup
	errs := map[string][]error{}
	var mu sync.Mutex
	for _, c := range claims {
		for _, owner := range []string{"old", "new"} {
			wg.Go(func() {
				err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: owner, Status: store.DeliverySucceeded,
					SpendAttempt: true, Now: later, Attempt: store.Attempt{StartedAt: later, Outcome: store.OutcomeSucceeded}})
				mu.Lock()
				errs[owner] = append(errs[owner], err)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, err := range errs["old"] {
		if !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("the old owner's completion: err = %v, want ErrLeaseLost", err)
		}
	}
	for _, err := range errs["new"] {
		if err != nil {
			t.Errorf("the new owner's completion: %v", err)
		}
	}
	for _, c := range claims {
		as, err := s.ListAttempts(ctx, c.Delivery.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, a := range as {
			got = append(got, a.Attempt)
		}
		if fmt.Sprint(got) != "[1 2 3]" {
			t.Errorf("delivery %d attempts numbered %v, want [1 2 3]", c.Delivery.ID, got)
		}
		ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{AfterID: c.Delivery.ID - 1, Limit: 1})
		if err != nil || ds[0].Status != store.DeliverySucceeded {
			t.Errorf("delivery %d after both completions: %+v, %v", c.Delivery.ID, ds, err)
		}
	}
}

// Appends have connections of their own: a pool taken whole by readers
// does not stop acknowledgements; when the writers' connections are taken,
// the bounded queue fills and appends are refused with ErrBusy at once,
// and the store recovers when they are back.
func TestPoolExhaustionIsBackPressure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t)+"&pool_max_conns=2", postgres.Options{QueueSize: 4, MaxBatch: 1, Writers: 1})

	var held []*pgxpool.Conn
	for range 2 {
		c, err := s.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "while-readers-hold-the-pool")); err != nil {
		t.Fatalf("append while the read pool is exhausted: %v", err)
	}
	for _, c := range held {
		c.Release()
	}

	w, err := s.WritePool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		busy atomic.Int64
	)
	for i := range 16 {
		wg.Go(func() {
			_, err := s.Append(ctx, storetest.NewEvent("sent", fmt.Sprint("held-", i)))
			switch {
			case errors.Is(err, store.ErrBusy):
				busy.Add(1)
			case err != nil:
				t.Errorf("append: %v", err)
			}
		})
	}
	for busy.Load() < 16-5 { // 4 queued, 1 waiting for a connection
		time.Sleep(time.Millisecond)
	}
	w.Release()
	wg.Wait()
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "after")); err != nil {
		t.Fatalf("append once the connection is back: %v", err)
	}
}

// Instances starting at once record their routes at once: every one
// succeeds, and the routes kept are one instance's whole list, never a mix.
func TestConcurrentSetRoutes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, pgtest.URL(t), postgres.Options{MaxConns: 16})
	lists := [][]store.Route{
		{{Name: "forward"}},
		{{Name: "forward"}, {Name: "forward-2", Types: []string{"message.*"}}},
		{{Name: "app"}, {Name: "audit"}, {Name: "log"}},
	}
	for round := range 4 {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 16 {
			wg.Go(func() {
				<-start
				if err := s.SetRoutes(ctx, lists[(round+i)%len(lists)]); err != nil {
					t.Errorf("round %d, instance %d: %v", round, i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		got, recorded, err := s.Routes(ctx)
		if err != nil || !recorded {
			t.Fatalf("routes after round %d: %v, recorded %v", round, err, recorded)
		}
		if !slices.ContainsFunc(lists, func(l []store.Route) bool { return reflect.DeepEqual(l, got) }) {
			t.Errorf("routes after round %d = %+v; want one instance's whole list", round, got)
		}
	}
}

// Two instances on one schema append the events of the same subjects at
// once: every subject still ends on its latest state, and every event's
// stale flag matches the events of its subject stored before it.
func TestSubjectsAcrossInstances(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	a, b := open(t, u, postgres.Options{}), open(t, u, postgres.Options{})
	tr := storetest.NewSubjectTraffic(2000)
	tr.Append(t, a, b)
	tr.Check(t, a)
}
