package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// (The retention tests both backends share are in internal/retention.)

// appendAt appends an event received at at, routed to dests.
func appendAt(t *testing.T, s store.Store, key string, at time.Time, dests ...string) *store.Event {
	t.Helper()
	ev := storetest.NewEvent("sent", key)
	ev.ReceivedAt, ev.Destinations = at, dests
	res, err := s.Append(context.Background(), ev)
	if err != nil || res.Duplicate {
		t.Fatalf("append %s = %+v, %v", key, res, err)
	}
	return storetest.Appended(ev, res)
}

// completeAll claims every delivery due at at and records status for it.
func completeAll(t *testing.T, s store.Store, at time.Time, status store.DeliveryStatus) int {
	t.Helper()
	ctx := context.Background()
	claims, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: at, Lease: time.Minute, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if err := s.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "w", Status: status, SpendAttempt: true, Now: at,
			Attempt: store.Attempt{StartedAt: at, Outcome: store.OutcomePermanent}}); err != nil {
			t.Fatal(err)
		}
	}
	return len(claims)
}

// The newest event is kept, however old: a new event then takes a seq
// past every one the cursors have passed, and is delivered. Were its seq
// a pruned event's, the cursor would count it as delivered already.
func TestPruneKeepsTheNewestEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := open(t, sqlite.Options{Exclusive: true})
	old := time.Now().Add(-60 * 24 * time.Hour)
	var evs []*store.Event
	for i := range 3 {
		evs = append(evs, appendAt(t, s, fmt.Sprint("old-", i), old, "app"))
	}
	if n := completeAll(t, s, old, store.DeliverySucceeded); n != 3 {
		t.Fatalf("claimed %d, want 3", n)
	}
	events, _, err := s.Prune(ctx, time.Now(), time.Time{}, old.Add(-time.Hour), 100)
	if err != nil || events != 2 {
		t.Fatalf("prune = %d, %v; want every event but the newest", events, err)
	}
	if _, err := s.GetEvent(ctx, evs[2].ID); err != nil {
		t.Fatalf("the newest event: %v", err)
	}
	next := appendAt(t, s, "new", time.Now(), "app")
	if next.Seq <= evs[2].Seq {
		t.Errorf("new event's seq %d, not past the newest pruned one's %d", next.Seq, evs[2].Seq)
	}
	claims, err := s.Claim(ctx, store.ClaimParams{Owner: "w", Now: time.Now(), Lease: time.Minute})
	if err != nil || len(claims) != 1 || claims[0].Event.ID != next.ID {
		t.Errorf("claims after pruning = %v, %v; want the new event's delivery", claims, err)
	}
}

// The keys of pruned events hold for every process appending to the
// store (a command releasing a rejection while serve runs), and across a
// restart; once they age out, they hold for none.
func TestKeptKeysHoldForEveryProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	owner, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	command, err := sqlite.Open(ctx, path, sqlite.Options{}) // opened before anything is pruned
	if err != nil {
		t.Fatal(err)
	}
	defer command.Close()
	old := time.Now().Add(-60 * 24 * time.Hour)
	gone := appendAt(t, owner, "gone", old)
	appendAt(t, owner, "newest", time.Now())
	if events, _, err := owner.Prune(ctx, time.Now().Add(-24*time.Hour), time.Time{}, old.Add(-time.Hour), 10); err != nil || events != 1 {
		t.Fatalf("prune = %d, %v; want 1", events, err)
	}

	byKey := storetest.NewEvent("sent", "gone")
	byBody := storetest.NewEvent("sent", "forged")
	byBody.Body = gone.Body
	for _, ev := range []*store.NewEvent{byKey, byBody} {
		if res, err := command.Append(ctx, ev); err != nil || !res.Duplicate || res.EventID != gone.ID {
			t.Errorf("%s through another process = %+v, %v; want a duplicate of the pruned event", ev.DedupeKey, res, err)
		}
	}
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	owner, err = sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if res, err := owner.Append(ctx, storetest.NewEvent("sent", "gone")); err != nil || !res.Duplicate || res.EventID != gone.ID {
		t.Errorf("after a restart = %+v, %v; want a duplicate of the pruned event", res, err)
	}

	if _, keys, err := owner.Prune(ctx, old, time.Time{}, time.Now(), 10); err != nil || keys != 1 {
		t.Fatalf("prune keys = %d, %v; want 1", keys, err)
	}
	if res, err := command.Append(ctx, storetest.NewEvent("sent", "gone")); err != nil || res.Duplicate {
		t.Errorf("after its keys aged out = %+v, %v; want a new event", res, err)
	}
}

// A batch looks at a bounded number of events, however many must be
// kept (dead deliveries waiting for a person), and the next batch goes on
// from there: what can be pruned behind them is pruned all the same.
func TestPruneGoesOnPastKeptEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := open(t, sqlite.Options{Exclusive: true})
	old := time.Now().Add(-60 * 24 * time.Hour)
	for i := range 40 {
		appendAt(t, s, fmt.Sprint("dead-", i), old, "app")
	}
	if n := completeAll(t, s, old, store.DeliveryDead); n != 40 {
		t.Fatalf("claimed %d, want 40", n)
	}
	done := appendAt(t, s, "done", old)
	appendAt(t, s, "newest", time.Now())
	before := time.Now().Add(-24 * time.Hour)
	var calls, first int64 = 0, -1
	for ; calls < 10; calls++ {
		events, _, err := s.Prune(ctx, before, time.Time{}, old.Add(-time.Hour), 1)
		if err != nil {
			t.Fatal(err)
		}
		if first < 0 {
			first = events
		}
		if events == 1 {
			break
		}
	}
	if first != 0 {
		t.Errorf("the first batch pruned %d: it looked past the bound on the events it reads", first)
	}
	if _, err := s.GetEvent(ctx, done.ID); err == nil {
		t.Errorf("the event behind 40 kept ones was not pruned in %d batches", calls)
	}
}

// BenchmarkAppendKeptKeys is BenchmarkAppend on a store that has pruned
// events and keeps their keys: the cost of the kept keys' check on the
// ack path, against BenchmarkAppend in the same run.
func BenchmarkAppendKeptKeys(b *testing.B) {
	s, _ := openBench(b)
	ctx := context.Background()
	old := time.Now().Add(-60 * 24 * time.Hour)
	for i := range 1001 {
		ev := storetest.NewEvent("sent", fmt.Sprint("old-", i))
		ev.ReceivedAt = old
		if _, err := s.Append(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	if n, _, err := s.Prune(ctx, time.Now(), time.Time{}, old.Add(-time.Hour), 2000); err != nil || n != 1000 {
		b.Fatalf("prune = %d, %v", n, err)
	}
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := storetest.NewEvent("sent", fmt.Sprint("b-", n.Add(1)))
			if _, err := s.Append(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendDuplicate answers duplicates of one stored event: the
// path that also looks up the kept keys of pruned events.
func BenchmarkAppendDuplicate(b *testing.B) {
	s, _ := openBench(b)
	ctx := context.Background()
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "dup")); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := s.Append(ctx, storetest.NewEvent("sent", "dup")); err != nil || !res.Duplicate {
				b.Error(res, err)
				return
			}
		}
	})
}

// Kept keys cost an append nothing but its own statement's two lookups:
// pruning adds no trigger to the events table.
func TestPruneAddsNoTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := open(t, sqlite.Options{Exclusive: true})
	old := time.Now().Add(-60 * 24 * time.Hour)
	appendAt(t, s, "gone", old)
	appendAt(t, s, "newest", time.Now())
	if events, _, err := s.Prune(ctx, time.Now().Add(-24*time.Hour), time.Time{}, old.Add(-time.Hour), 10); err != nil || events != 1 {
		t.Fatalf("prune = %d, %v; want 1", events, err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var triggers []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%INSERT ON%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, name)
	}
	if len(triggers) > 0 {
		t.Errorf("triggers after pruning: %v; want none on the insert path", triggers)
	}
}

// A store that kept the keys of pruned events as strings (pruned_keys)
// keeps them as digests once opened: a duplicate of a pruned event, by
// dedupe key or by body, is still answered with the pruned event's id.
func TestMigrationKeepsPrunedKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	names, err := filepath.Glob(filepath.Join("migrations", "000*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, len(names))
	gone := storetest.NewEvent("sent", "gone")
	sum := sha256.Sum256(gone.Body)
	for _, q := range []string{
		`INSERT INTO pruned_keys (seq, id, source, dedupe_key, body_sha256, received_at) VALUES (1, '` + gone.ID + `', 'sent', '` + gone.DedupeKey + `', X'` + hex.EncodeToString(sum[:]) + `', 1)`,
		`INSERT INTO events (seq, id, source, dedupe_key, received_at, body) VALUES (2, 'newest', 'sent', 'newest', 2, '')`,
		`PRAGMA user_version = ` + strconv.Itoa(len(names)),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open a store with pruned_keys: %v", err)
	}
	defer s.Close()
	byKey := storetest.NewEvent("sent", "gone")
	byBody := storetest.NewEvent("sent", "forged")
	byBody.Body = gone.Body
	for _, ev := range []*store.NewEvent{byKey, byBody} {
		if res, err := s.Append(ctx, ev); err != nil || !res.Duplicate || res.EventID != gone.ID {
			t.Errorf("%s after the migration = %+v, %v; want a duplicate of the pruned event", ev.DedupeKey, res, err)
		}
	}
	if res, err := s.Append(ctx, storetest.NewEvent("sent", "new")); err != nil || res.Duplicate {
		t.Errorf("a new event after the migration = %+v, %v; want it stored", res, err)
	}
}

// Pruning keeps the log within its bound: each of its transactions
// appends at most an eighth of it, and the writer rewinds the log between
// two. Fixed batches of 500 events of 2 KiB wrote more than the bound in
// one transaction.
func TestWALStaysWithinItsBoundWhilePruning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const bound = 1 << 20
	s, path := open(t, sqlite.Options{MaxWALBytes: bound, Exclusive: true})
	old := time.Now().Add(-60 * 24 * time.Hour)
	const events = 3000
	for i := range events {
		ev := storetest.NewEvent("sent", fmt.Sprint("old-", i))
		ev.ReceivedAt = old
		ev.Body = make([]byte, 2<<10)
		binary.BigEndian.PutUint64(ev.Body, uint64(i))
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	var largest int64
	var pruned int64
	for {
		n, _, err := s.Prune(ctx, time.Now(), time.Time{}, old.Add(-time.Hour), 500)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, fileSize(t, path+"-wal"))
		if pruned += n; n == 0 {
			break
		}
	}
	if pruned != events-1 {
		t.Fatalf("pruned %d events, want %d", pruned, events-1)
	}
	if slack := int64(bound / 4); largest > bound+slack {
		t.Errorf("largest WAL seen while pruning = %.2f MiB, want at most %.2f MiB (bound + slack)",
			float64(largest)/(1<<20), float64(bound+slack)/(1<<20))
	}
}
