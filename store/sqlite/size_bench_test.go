package sqlite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// grownStore returns the path of a store of events, the first old of
// them received 40 days ago (past a 30-day retention, nothing left to
// deliver: prunable), the rest an hour ago. It is grown once, by SQL
// straight into the file (real ingest takes an hour for a million), at
// $HOOKLATCH_GROWN_STORE, and reused: keep it outside the repository.
// Without that variable the benchmark is skipped. Benchmarks that write
// to it work on a copy (copyStore).
func grownStore(b *testing.B, events, old int) string {
	b.Helper()
	path := os.Getenv("HOOKLATCH_GROWN_STORE")
	if path == "" {
		b.Skip("set HOOKLATCH_GROWN_STORE to a path outside the repository, where a store of " +
			strconv.Itoa(events) + " events is grown once and kept")
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	b.Logf("growing %s to %d events (%d past retention)", path, events, old)
	s, err := sqlite.Open(context.Background(), path+".tmp", sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	if err := insertEvents(path+".tmp", events, old); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}

// insertEvents appends events shaped like Sent's (a sample body with a
// fresh subject, a fresh event id) to the store at path.
func insertEvents(path string, events, old int) error {
	db, err := sql.Open("sqlite", path+"?_pragma=cache_size(-1000000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	sample, err := event.Sample("message.delivered", event.SampleOptions{})
	if err != nil {
		return err
	}
	env, err := event.Parse(sample)
	if err != nil {
		return err
	}
	subject := env.Subject().ID
	oldAt, newAt := time.Now().Add(-40*24*time.Hour).UnixNano(), time.Now().Add(-time.Hour).UnixNano()
	const perTx = 50_000
	for done := 0; done < events; done += perTx {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(`INSERT INTO events (id, source, dedupe_key, type, subject, status, received_at, headers, body, body_sha256)
VALUES (?, 'sent', ?, 'message.delivered', ?, 'delivered', ?, '{}', ?, ?)`)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := done; i < min(done+perTx, events); i++ {
			fresh := uuid.NewString()
			body := bytes.Replace(sample, []byte(subject), []byte(fresh), 1)
			sum := sha256.Sum256(body)
			at := newAt + int64(i)
			if i < old {
				at = oldAt + int64(i)
			}
			if _, err := stmt.Exec(uuid.Must(uuid.NewV7()).String(), "event-id:"+rand.Text(), fresh, at, body, sum[:]); err != nil {
				tx.Rollback()
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// BenchmarkGrow only grows the store: run it once before the others.
func BenchmarkGrow(b *testing.B) {
	grownStore(b, grownEvents, grownOld)
	for b.Loop() {
	}
}

const grownEvents, grownOld = 1_500_000, 1_200_000
