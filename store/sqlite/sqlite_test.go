package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "hooklatch.db")
		return func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func open(t *testing.T, opts sqlite.Options) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	s, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// While another process holds the write lock, the writer cannot commit;
// once the bounded queue is full, Append fails fast with ErrBusy instead of
// piling up requests.
func TestAppendBusyWhenQueueFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, path := open(t, sqlite.Options{QueueSize: 4, MaxBatch: 1, BusyTimeout: 3 * time.Second})

	// Another connection, as a CLI command would have, takes the write lock.
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
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
				// A write that waited past the busy timeout fails too; that
				// is also an answer the receiver turns into 503.
				if !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "busy") {
					t.Errorf("append: %v", err)
				}
			}
		})
	}
	// Release the lock once the rejected appends have had their answer.
	for busy.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if busy.Load() == 0 {
		t.Fatal("no append was refused with ErrBusy while the queue was full")
	}
	// The store recovers once the lock is gone.
	if _, err := s.Append(ctx, storetest.NewEvent("sent", "after")); err != nil {
		t.Fatalf("append after the lock was released: %v", err)
	}
}

// A capped database refuses writes once full, and says so, instead of
// filling the disk.
func TestMaxSizeRefusesWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := open(t, sqlite.Options{MaxSizeBytes: 256 << 10})

	var appendErr error
	for i := range 10000 {
		ev := storetest.NewEvent("sent", fmt.Sprint("fill-", i))
		ev.Body = make([]byte, 4<<10) // distinct bodies: equal ones are duplicates
		binary.BigEndian.PutUint64(ev.Body, uint64(i))
		if _, appendErr = s.Append(ctx, ev); appendErr != nil {
			break
		}
	}
	if appendErr == nil || !strings.Contains(appendErr.Error(), "full") {
		t.Fatalf("appends past the cap: err = %v, want a 'database or disk is full' error", appendErr)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events == 0 || st.Events > 256 {
		t.Errorf("events stored before the cap = %d", st.Events)
	}
}

func TestReopenNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := sqlite.Open(ctx, path, sqlite.Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: err = %v", err)
	}
}

// BenchmarkAppend measures durable appends from many goroutines, where
// group commit shares each fsync; BenchmarkAppendSerial is the baseline of
// one append per transaction.
func BenchmarkAppend(b *testing.B) {
	s, _ := openBench(b)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := storetest.NewEvent("sent", fmt.Sprint("b-", n.Add(1)))
			if _, err := s.Append(context.Background(), ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkAppendSerial(b *testing.B) {
	s, _ := openBench(b)
	for i := 0; b.Loop(); i++ {
		if _, err := s.Append(context.Background(), storetest.NewEvent("sent", fmt.Sprint("s-", i))); err != nil {
			b.Fatal(err)
		}
	}
}

func openBench(b *testing.B) (*sqlite.Store, string) {
	path := filepath.Join(b.TempDir(), "hooklatch.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, path
}

// A store written before bodies were a dedupe key gets their hashes when it
// is opened: its old events are then met by a replay under a new event id,
// and bodies it stored twice (such replays) do not stop the migration.
func TestMigrationHashesOldBodies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, 2)
	insert := `INSERT INTO events (id, source, dedupe_key, received_at, body) VALUES (?, 'sent', ?, 1, ?)`
	for _, row := range [][]any{
		{"old-1", "event-id:a", []byte(`{"n":1}`)},
		{"old-2", "event-id:b", []byte(`{"n":2}`)},
		{"old-2-replayed", "event-id:forged", []byte(`{"n":2}`)},
	} {
		if _, err := db.ExecContext(ctx, insert, row...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	s := openOlder(t, db, path)
	for body, want := range map[string]string{`{"n":1}`: "old-1", `{"n":2}`: "old-2"} {
		ev := storetest.NewEvent("sent", "event-id:new-"+want)
		ev.Body = []byte(body)
		res, err := s.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Duplicate || res.EventID != want {
			t.Errorf("replay of %s under a new id = %+v, want a duplicate of %s", body, res, want)
		}
	}
}

// oldSchema creates at path the schema of the first n migrations, as a
// store written by an older build has it, and returns the file opened
// behind the store's back.
// openOlder closes db, the older store at path, and opens it as this
// build does, migrating it.
func openOlder(t *testing.T, db *sql.DB, path string) *sqlite.Store {
	t.Helper()
	db.Close()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open an older store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func oldSchema(t *testing.T, path string, n int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(scripts) < n {
		t.Fatalf("migrations: %v, %v", scripts, err)
	}
	for _, name := range scripts[:n] {
		script, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(script)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return db
}

// A store written while subjects were keyed by name keeps every subject's
// state when its table is keyed by the subject's first event instead
// (migration 0024): the states are read back, and the next event of a
// subject is counted on its state, stale when it is.
func TestMigrationKeysSubjectsByFirstEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, 23)
	for _, q := range []string{
		`INSERT INTO events (seq, id, source, dedupe_key, subject, status, received_at, body, body_sha256) VALUES
		   (5, 'e5', 'sent', 'k5', 'm1', 'SENT', 1, x'', x'05'),
		   (7, 'e7', 'other', 'k7', 'm1', 'SENT', 1, x'', x'07'),
		   (9, 'e9', 'sent', 'k9', 'm1', 'DELIVERED', 2, x'', x'09'),
		   (11, 'e11', 'sent', 'k11', 'm2', 'READ', 3, x'', x'0b')`,
		`INSERT INTO subjects (source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events, updated_at) VALUES
		   ('sent', 'm1', 'message_id', 'DELIVERED', 6, 9, 'e9', 0, 2, 2, 2),
		   ('other', 'm1', 'message_id', 'SENT', 5, 7, 'e7', 0, 1, 1, 1),
		   ('sent', 'm2', 'message_id', 'READ', 7, 11, 'e11', 0, 3, 1, 3),
		   ('sent', 'gone', 'message_id', 'READ', 7, 3, 'e3', 0, 3, 1, 3)`,
		`PRAGMA user_version = 23`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s := openOlder(t, db, path)
	for _, want := range []struct {
		source, subject, status string
		events                  int64
	}{{"sent", "m1", "DELIVERED", 2}, {"other", "m1", "SENT", 1}, {"sent", "m2", "READ", 1}} {
		st, err := s.Subject(ctx, want.source, want.subject)
		if err != nil {
			t.Fatalf("Subject(%s, %s): %v", want.source, want.subject, err)
		}
		if st.Status != want.status || st.Events != want.events {
			t.Errorf("Subject(%s, %s) = %s with %d events, want %s with %d", want.source, want.subject, st.Status, st.Events, want.status, want.events)
		}
	}
	if _, err := s.Subject(ctx, "sent", "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a state without events: %v, want not found", err)
	}
	late := storetest.NewEvent("sent", "late")
	late.SubjectKind, late.Subject, late.Status = "message_id", "m1", "SENT"
	if _, err := s.Append(ctx, late); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvent(ctx, late.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Stale {
		t.Error("a SENT after the migrated DELIVERED is not stale")
	}
	if st, err := s.Subject(ctx, "sent", "m1"); err != nil || st.Events != 3 || st.Status != "DELIVERED" {
		t.Errorf("Subject(sent, m1) after one more event = %+v, %v; want DELIVERED with 3", st, err)
	}
}

// The events a store kept before it kept subjects' states get theirs in
// the background (BackfillSubjects), as the append would have given
// them: a message whose events all predate the upgrade has its latest
// state, an out-of-order one among them is stale, and an event that
// arrived after the upgrade but before the backfill is counted with them.
func TestBackfillSubjectsOfOlderEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, 19)
	for _, q := range []string{
		`INSERT INTO events (seq, id, source, dedupe_key, subject_kind, subject, status, occurred_at, received_at, body, body_sha256) VALUES
		   (1, 'e1', 'sent', 'k1', 'message_id', 'm1', 'DELIVERED', 20, 1, x'', x'01'),
		   (2, 'e2', 'sent', 'k2', 'message_id', 'm1', 'SENT', 10, 2, x'', x'02'),
		   (3, 'e3', 'sent', 'k3', '', '', '', 0, 3, x'', x'03'),
		   (4, 'e4', 'sent', 'k4', 'message_id', 'm2', 'READ', 30, 4, x'', x'04'),
		   (5, 'e5', 'sent', 'k5', 'message_id', 'm1', 'QUEUED', 5, 5, x'', x'05')`,
		`PRAGMA user_version = 19`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s := openOlder(t, db, path)
	if _, err := s.Subject(ctx, "sent", "m2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Subject(m2) before the backfill: %v, want not found", err)
	}
	// An event after the upgrade, before the backfill: its state is its
	// own until the older ones are counted.
	read := storetest.NewEvent("sent", "after")
	read.SubjectKind, read.Subject, read.Status, read.OccurredAt = "message_id", "m1", "READ", time.Unix(0, 40)
	if _, err := s.Append(ctx, read); err != nil {
		t.Fatal(err)
	}
	var calls int
	for done := false; !done; calls++ {
		if calls == 10 {
			t.Fatal("the backfill never ended")
		}
		var err error
		if _, done, err = s.BackfillSubjects(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 3 {
		t.Errorf("backfilled 5 seqs 2 at a time in %d calls, want 3", calls)
	}
	for _, want := range []struct {
		subject, status, eventID string
		events                   int64
	}{{"m1", "READ", read.ID, 4}, {"m2", "READ", "e4", 1}} {
		st, err := s.Subject(ctx, "sent", want.subject)
		if err != nil {
			t.Fatalf("Subject(%s): %v", want.subject, err)
		}
		if st.Status != want.status || st.EventID != want.eventID || st.Events != want.events {
			t.Errorf("Subject(%s) = %s by %s with %d events, want %s by %s with %d", want.subject, st.Status, st.EventID, st.Events,
				want.status, want.eventID, want.events)
		}
	}
	for id, stale := range map[string]bool{"e1": false, "e2": true, "e4": false, "e5": true} {
		ev, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Stale != stale || ev.Rank == 0 {
			t.Errorf("%s (%s): stale %v rank %d, want stale %v and a rank", id, ev.Status, ev.Stale, ev.Rank, stale)
		}
	}
	if n, done, err := s.BackfillSubjects(ctx, 2); n != 0 || !done || err != nil {
		t.Errorf("BackfillSubjects once done = %d, %v, %v; want 0, done", n, done, err)
	}
}

// Short ids made from the body's hash (store.NewEventID) cost the append
// no entry in the index of id ends; other ids still get one. A store
// whose index held every id (before migration 0027) keeps finding its
// events by short id once migrated, including one stored without a hash.
func TestShortIDsMadeFromTheBodyHashAreNotIndexedTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db := oldSchema(t, path, 26)
	if _, err := db.ExecContext(ctx, `INSERT INTO events (seq, id, source, dedupe_key, received_at, body, body_sha256) VALUES
		   (1, '019a0000-0000-7000-8000-00000000a1b2', 'sent', 'k1', 1, x'7b7d', x'01'),
		   (2, '019a0000-0000-7000-8000-00000000c3d4', 'sent', 'k2', 1, x'7b7d', NULL);
		PRAGMA user_version = 26`); err != nil {
		t.Fatal(err)
	}
	s := openOlder(t, db, path)
	var ids []string
	for i := range 10 {
		ev := storetest.NewEvent("sent", fmt.Sprintf("hashed-%d", i))
		ev.ID = store.NewEventIDFor(ev.Body)
		ids = append(ids, ev.ID)
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	other := storetest.NewEvent("sent", "random") // a random end
	if _, err := s.Append(ctx, other); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, other.ID, "019a0000-0000-7000-8000-00000000a1b2", "019a0000-0000-7000-8000-00000000c3d4")
	for _, id := range ids {
		if ev, err := store.FindEvent(ctx, s, id[len(id)-8:]); err != nil || ev.ID != id {
			t.Errorf("FindEvent(%s) = %v, %v; want %s", id[len(id)-8:], ev, err, id)
		}
	}
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var entries int
	if err := db.QueryRow(`SELECT sum(ncell) FROM dbstat WHERE name = 'events_id_tail' AND pagetype = 'leaf'`).Scan(&entries); err != nil {
		t.Fatal(err)
	}
	if entries != 3 {
		t.Errorf("events_id_tail holds %d entries, want 3: the two older events and the one with a random id", entries)
	}
}
