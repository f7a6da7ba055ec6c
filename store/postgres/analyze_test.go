package postgres

import (
	"context"
	"testing"
	"time"
)

// reltuples is the planner's row estimate for table: -1 until it was
// first analyzed.
func reltuples(t *testing.T, s *Store, table string) float64 {
	t.Helper()
	var n float64
	if err := s.pool.QueryRow(context.Background(), `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// When autovacuum is not there to, a store analyzes each table that
// changed by a tenth and vacuums each whose dead rows reach a fifth; and
// its sessions do not JIT-compile their short queries.
func TestStatisticsKeptAndNoJIT(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	// Empty, the tables are left unanalyzed: the planner goes by their
	// size as they grow (see analyzeMigrated).
	if n := reltuples(t, s, "events"); n >= 0 {
		t.Errorf("the empty events table was analyzed (reltuples %v): sessions would keep plans made for no rows", n)
	}
	var jit string
	if err := s.pool.QueryRow(ctx, `SHOW jit`).Scan(&jit); err != nil {
		t.Fatal(err)
	}
	if jit != "off" {
		t.Errorf("jit = %s, want off", jit)
	}

	var autovacuum string
	if err := s.pool.QueryRow(ctx, `SHOW autovacuum`).Scan(&autovacuum); err != nil {
		t.Fatal(err)
	}
	if autovacuum == "on" {
		t.Skip("autovacuum is on on this server: it analyzes the tables, and the store leaves them to it")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO events (id, source, dedupe_key, received_at, body, body_sha256)
SELECT 'a-' || i, 'sent', 'k-' || i, now(), '\x00', sha256(i::text::bytea) FROM generate_series(1, 1500) i`)
	if err != nil {
		t.Fatal(err)
	}
	// The counts of changes reach pg_stat_user_tables a moment after the
	// writers' commits.
	for deadline := time.Now().Add(10 * time.Second); reltuples(t, s, "events") < 1500; {
		if time.Now().After(deadline) {
			t.Fatalf("events still estimated at %v rows after 1,500 inserts", reltuples(t, s, "events"))
		}
		if err := s.analyzeStale(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM events`); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var vacuumed bool
		if err := s.pool.QueryRow(ctx, `SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relid = 'events'::regclass`).Scan(&vacuumed); err != nil {
			t.Fatal(err)
		}
		if vacuumed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events not vacuumed after its 1,500 rows were deleted")
		}
		if err := s.analyzeStale(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
