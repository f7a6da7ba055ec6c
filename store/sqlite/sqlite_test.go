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
	db.Close()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open an older store: %v", err)
	}
	defer s.Close()
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
	db.Close()

	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("open an older store: %v", err)
	}
	defer s.Close()
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
