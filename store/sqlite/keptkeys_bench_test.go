package sqlite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkKeptKeysCheck is the cost an insert pays for the kept keys of
// 100,000 pruned events, in CPU alone (synchronous off, a transaction per
// 1,000 inserts): "none" is a plain insert that checks nothing; "digests"
// is appendSQL, which looks up the event's two digests in kept_keys;
// "trigger" is the plain insert under the trigger that kept keys had
// before migration 0013 (a BEFORE INSERT trigger looking up the strings in
// pruned_keys). It alternates them, 10,000 inserts each, five rounds, and
// reports the CPU time an insert took in each, which other processes on
// the machine do not inflate as they do the time that passed:
//
//	go test -run '^$' -bench KeptKeysCheck -benchtime 1x ./store/sqlite
func BenchmarkKeptKeysCheck(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "h.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const kept = 100_000
	setup := []string{`CREATE TABLE pruned_keys (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, source TEXT NOT NULL,
    dedupe_key TEXT NOT NULL, body_sha256 BLOB, received_at INTEGER NOT NULL)`,
		`CREATE INDEX pruned_keys_dedupe_key ON pruned_keys (dedupe_key, source)`,
		`CREATE INDEX pruned_keys_body ON pruned_keys (body_sha256, source)`,
		`CREATE INDEX pruned_keys_received_at ON pruned_keys (received_at)`}
	for _, q := range setup {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	for seq := 1; seq <= kept; seq++ {
		dk, sum := "event-id:"+rand.Text(), sha256.Sum256([]byte(rand.Text()))
		key, body := keptDigests("sent", dk, sum[:])
		if _, err := tx.Exec(keepKeysSQL, -seq, rand.Text(), 1, key, body); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO pruned_keys VALUES (?, ?, 'sent', ?, ?, 1)`, -seq, rand.Text(), dk, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	const plainSQL = `INSERT INTO events (id, source, dedupe_key, field, type, subject_kind, subject, status,
                    occurred_at, received_at, scheme, attention, headers, body, body_sha256, dest_mask)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
ON CONFLICT DO NOTHING`
	const trigger = `CREATE TRIGGER events_kept_keys BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM pruned_keys p WHERE p.dedupe_key = NEW.dedupe_key AND p.source = NEW.source)
  OR EXISTS (SELECT 1 FROM pruned_keys p WHERE p.body_sha256 = NEW.body_sha256 AND p.source = NEW.source)
BEGIN SELECT RAISE(IGNORE); END`
	variants := []struct {
		name, insert, before, after string
		digests                     bool
	}{
		{"none", plainSQL, "", "", false},
		{"digests", appendSQL, "", "", true},
		{"trigger", plainSQL, trigger, "DROP TRIGGER events_kept_keys", false},
	}
	const rounds, inserts = 5, 10_000
	for b.Loop() {
		cpu := make([]time.Duration, len(variants))
		for range rounds {
			for i, v := range variants {
				if v.before != "" {
					if _, err := db.Exec(v.before); err != nil {
						b.Fatal(err)
					}
				}
				start := cpuTime()
				insertEvents(b, db, v.insert, v.digests, inserts)
				cpu[i] += cpuTime() - start
				if v.after != "" {
					if _, err := db.Exec(v.after); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		for i, v := range variants {
			b.ReportMetric(float64(cpu[i])/rounds/inserts, v.name+"-cpu-ns/insert")
		}
	}
}

// insertEvents inserts n new events with insert, a transaction per
// 1,000, passing their digests when digests is set.
func insertEvents(b *testing.B, db *sql.DB, insert string, digests bool, n int) {
	body := []byte(`{"type":"message.delivered","data":{"id":"` + rand.Text() + `"}}`)
	var tx *sql.Tx
	var stmt *sql.Stmt
	for i := range n {
		if i%1000 == 0 {
			if tx != nil {
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			var err error
			if tx, err = db.Begin(); err != nil {
				b.Fatal(err)
			}
			if stmt, err = tx.Prepare(insert); err != nil {
				b.Fatal(err)
			}
		}
		id, dk := rand.Text(), "event-id:"+rand.Text()
		sum := sha256.Sum256(append(body, id...))
		args := []any{id, "sent", dk, "", "message.delivered", "", id, "", 0, 1, "", "", "{}", body, sum[:], 0}
		if digests {
			key, bd := keptDigests("sent", dk, sum[:])
			args = append(args, key, bd)
		}
		if _, err := stmt.Exec(args...); err != nil {
			b.Fatal(err)
		}
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
