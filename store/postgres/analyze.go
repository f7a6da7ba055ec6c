package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The planner's statistics, and the dead rows of updated and deleted
// ones. Without statistics PostgreSQL plans the lists blind; without
// VACUUM every delivery's passage through pending and in flight leaves
// dead entries that claims and the queue's sampler wade through. Many
// servers run with autovacuum off, so that nothing would do either: a
// store analyzes its tables itself after migrating them (those holding
// rows), and, when
// autovacuum is off, does what autovacuum would by default, checked
// every analyzeEvery by one instance at a time: VACUUM (ANALYZE) of a
// table with dead rows over a fifth of its rows, ANALYZE of one that
// changed by a tenth. ANALYZE reads a sample of a fixed size; VACUUM
// reads the pages changed since the last one and, when they hold enough
// dead entries, the table's indexes: done at that threshold, its cost
// per changed row stays the same at any size.
const analyzeEvery = time.Minute

// analyzedTables are the tables whose statistics the plans depend on.
var analyzedTables = []string{"events", "deliveries", "attempts", "pruned_keys", "rejections", "counters", "subjects"}

// staleTablesSQL names the tables that need a VACUUM (dead rows over a
// fifth of the rows, and at least a thousand) or an ANALYZE (changed by
// a tenth, and by at least a thousand rows, since last analyzed), unless
// autovacuum is there to see to them.
const staleTablesSQL = `
SELECT s.relname, s.n_dead_tup > 1000 + 0.2 * GREATEST(c.reltuples, 0)
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
 WHERE s.schemaname = current_schema() AND s.relname = ANY($1)
   AND current_setting('autovacuum') = 'off'
   AND (s.n_mod_since_analyze > 1000 + 0.1 * GREATEST(c.reltuples, 0)
        OR s.n_dead_tup > 1000 + 0.2 * GREATEST(c.reltuples, 0))
 ORDER BY s.relname`

// maintainLockSQL keeps instances from maintaining one schema at once;
// maintainUnlockSQL releases it.
const (
	maintainLockSQL   = `SELECT pg_try_advisory_lock(hashtextextended('hooklatch maintain ' || current_schema(), 0))`
	maintainUnlockSQL = `SELECT pg_advisory_unlock(hashtextextended('hooklatch maintain ' || current_schema(), 0))`
)

// analyzeLoop sees to the stale tables every analyzeEvery until Close.
func (s *Store) analyzeLoop() {
	t := time.NewTicker(analyzeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		if err := s.analyzeStale(ctx); err != nil {
			s.opts.Logger.Debug("postgres: analyze", "err", err)
		}
		cancel()
	}
}

// analyzeMigrated analyzes the tables a migration left holding rows: the
// plans need statistics at once, not when autovacuum (if it runs at all)
// comes by. Empty ones are left unanalyzed, so that the planner goes by
// their size as they grow: statistics of an empty table would have it
// plan seq scans that sessions keep (the foreign key checks' among them)
// while the table fills.
func analyzeMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	rows, err := pool.Query(ctx, `SELECT relname FROM pg_class
 WHERE relnamespace = current_schema()::regnamespace AND relname = ANY($1) AND pg_relation_size(oid) > 0
 ORDER BY relname`, analyzedTables)
	if err != nil {
		return err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) == 0 {
		return err
	}
	return maintain(ctx, pool, nil, tables)
}

// Maintain vacuums or analyzes the tables that need it now, as the store
// does every minute by itself (see analyzeEvery): for benchmarks and
// tools that measure a store in its steady state.
func (s *Store) Maintain(ctx context.Context) error { return s.analyzeStale(ctx) }

// analyzeStale vacuums or analyzes the tables staleTablesSQL names.
func (s *Store) analyzeStale(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, staleTablesSQL, analyzedTables)
	if err != nil {
		return err
	}
	var (
		vacuum, analyze []string
		table           string
		dead            bool
	)
	_, err = pgx.ForEachRow(rows, []any{&table, &dead}, func() error {
		if dead {
			vacuum = append(vacuum, table)
		} else {
			analyze = append(analyze, table)
		}
		return nil
	})
	if err != nil || len(vacuum)+len(analyze) == 0 {
		return err
	}
	return maintain(ctx, s.pool, vacuum, analyze)
}

// maintain runs VACUUM (ANALYZE) on vacuum and ANALYZE on analyze, unless
// another instance is at it. VACUUM runs outside a transaction, so the
// lock is the session's, on a connection of its own.
func maintain(ctx context.Context, pool *pgxpool.Pool, vacuum, analyze []string) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	var mine bool
	if err := conn.QueryRow(ctx, maintainLockSQL).Scan(&mine); err != nil || !mine {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), maintainUnlockSQL)
	for _, q := range []struct {
		verb   string
		tables []string
	}{{"VACUUM (ANALYZE) ", vacuum}, {"ANALYZE ", analyze}} {
		if len(q.tables) == 0 {
			continue
		}
		stmt := q.verb
		for i, t := range q.tables {
			if i > 0 {
				stmt += ", "
			}
			stmt += pgx.Identifier{t}.Sanitize()
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("postgres: %s: %w", stmt, err)
		}
	}
	return nil
}
