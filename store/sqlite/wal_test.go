package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// fill appends n events of body bytes each from goroutines appenders, and
// after every append calls sample.
func fill(t *testing.T, s *sqlite.Store, appenders, n, body int, sample func()) {
	t.Helper()
	var wg sync.WaitGroup
	var failed atomic.Bool
	for g := range appenders {
		wg.Go(func() {
			for i := range n / appenders {
				ev := storetest.NewEvent("sent", fmt.Sprintf("fill-%d-%d", g, i))
				ev.Body = make([]byte, body) // distinct bodies: equal ones are duplicates
				binary.BigEndian.PutUint64(ev.Body, uint64(g)<<32|uint64(i))
				if _, err := s.Append(context.Background(), ev); err != nil {
					if !failed.Swap(true) {
						t.Errorf("append: %v", err)
					}
					return
				}
				sample()
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Under continuous writes the WAL starts over once it holds MaxWALBytes:
// without that it grows by every commit for as long as the writes go on.
func TestWALStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	const bound = 1 << 20
	s, path := open(t, sqlite.Options{MaxWALBytes: bound})

	var largest atomic.Int64
	sample := func() {
		if n := fileSize(t, path+"-wal"); n > largest.Load() {
			largest.Store(n)
		}
	}
	// 8 appenders: a batch holds 8 appends at most.
	const events, body = 2000, 4 << 10
	fill(t, s, 8, events, body, sample)

	// The log holds whole pages with a small header each (24 bytes to
	// 4 KiB), and the bound is checked between batches: the last batch
	// may end a little past it.
	const slack = bound / 4
	if got := largest.Load(); got > bound+slack {
		t.Errorf("largest WAL seen = %.1f MiB, want at most %.1f MiB (bound %.1f MiB + slack)",
			float64(got)/(1<<20), float64(bound+slack)/(1<<20), float64(bound)/(1<<20))
	}
	// All of it went through the log: many times the bound.
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != events || st.Events*body < 4*bound {
		t.Fatalf("%d events stored: too little written to test the bound", st.Events)
	}
	t.Logf("largest WAL seen %.2f MiB while %d MiB of events were written", float64(largest.Load())/(1<<20), events*body>>20)
}

// Once writes stop, the WAL file is emptied: a burst does not leave a
// large file behind for as long as the store stays idle.
func TestWALEmptiedWhenIdle(t *testing.T) {
	t.Parallel()
	s, path := open(t, sqlite.Options{CheckpointInterval: 20 * time.Millisecond})
	fill(t, s, 8, 1000, 2<<10, func() {})
	if n := fileSize(t, path+"-wal"); n < 1<<20 {
		t.Fatalf("WAL after the writes = %d bytes: too little written to test its shrinking", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := fileSize(t, path+"-wal")
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WAL still %d bytes 10s after the writes stopped", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The store still works, and its log grows again from nothing.
	if _, err := s.Append(context.Background(), storetest.NewEvent("sent", "after")); err != nil {
		t.Fatal(err)
	}
}

// A reader that keeps a transaction open holds the log back: it grows
// while the reader lasts, and the writer says so once, not per batch. Once
// the reader lets go, the log starts over and its file is cut back to the
// bound (journal_size_limit).
func TestWALStartsOverOnceAReaderLetsGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const bound = 1 << 20
	var logs logtest.Buffer
	s, path := open(t, sqlite.Options{MaxWALBytes: bound, CheckpointInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	// An open read transaction, as an sqlite3 shell in a BEGIN would hold.
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	fill(t, s, 8, 1000, 4<<10, func() {})
	if size := fileSize(t, path+"-wal"); size < 4*bound {
		t.Fatalf("WAL = %d bytes while a reader held an old snapshot: the log started over beneath it?", size)
	}
	if got := strings.Count(logs.String(), "cannot start over yet"); got != 1 {
		t.Errorf("the writer said %d times that the log could not start over, want once:\n%s", got, logs.String())
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	// More writes: the log starts over, and its file is cut back.
	for i := 0; fileSize(t, path+"-wal") > bound+bound/4; i++ {
		if i == 20000 {
			t.Fatalf("WAL still %d bytes after 20000 more appends", fileSize(t, path+"-wal"))
		}
		ev := storetest.NewEvent("sent", fmt.Sprint("after-", i))
		ev.Body = make([]byte, 4<<10)
		binary.BigEndian.PutUint64(ev.Body, uint64(i))
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriterKeepsStatementJournalsInMemory: the writer's statement
// journals (a page per page a statement changes) stay in memory rather
// than spill to a temporary file past 64 KiB, which cost the append a
// seventh of its CPU in writes (docs/performance.md).
func TestWriterKeepsStatementJournalsInMemory(t *testing.T) {
	s, err := sqlite.Open(context.Background(), t.TempDir()+"/events.db", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := sqlite.WriterPragma(s, "temp_store")
	if err != nil {
		t.Fatal(err)
	}
	if v != "2" {
		t.Errorf("writer's temp_store = %s, want 2 (MEMORY)", v)
	}
}
