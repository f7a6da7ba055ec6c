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

// olderStore makes a store of the schema the migrations named make, and
// returns its path and a connection to it.
func olderStore(t *testing.T, migrations ...string) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hooklatch.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, name := range migrations {
		script, err := os.ReadFile(filepath.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(script)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return path, db
}

// A store written before bodies were a dedupe key gets their hashes when it
// is opened: its old events are then met by a replay under a new event id,
// and bodies it stored twice (such replays) do not stop the migration.
func TestMigrationHashesOldBodies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, db := olderStore(t, "0001_init.sql", "0002_deliveries.sql")
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
