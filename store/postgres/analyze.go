package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The planner's statistics. Without them PostgreSQL plans the lists
// blind, and many servers run with autovacuum off, so that nothing
// would ever gather them: a store analyzes its tables itself after
// migrating them, and, when autovacuum is off, each one that changed by
// a tenth since it was last analyzed (the threshold autovacuum uses by
// default), checked every analyzeEvery. ANALYZE reads a sample of a
// fixed size, so its cost does not grow with the tables.
const analyzeEvery = time.Minute

// analyzedTables are the tables whose statistics the plans depend on.
var analyzedTables = []string{"events", "deliveries", "attempts", "pruned_keys", "rejections"}

// staleTablesSQL names the tables that changed by a tenth (and by at
// least a thousand rows) since they were last analyzed, unless
// autovacuum is there to analyze them.
const staleTablesSQL = `
SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
 WHERE s.schemaname = current_schema() AND s.relname = ANY($1)
   AND current_setting('autovacuum') = 'off'
   AND s.n_mod_since_analyze > 1000 + 0.1 * GREATEST(c.reltuples, 0)
 ORDER BY s.relname`

// analyzeLockSQL keeps instances from analyzing one schema at once.
const analyzeLockSQL = `SELECT pg_try_advisory_xact_lock(hashtextextended('hooklatch analyze ' || current_schema(), 0))`

// analyzeLoop analyzes the stale tables every analyzeEvery until Close.
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

// analyzeStale analyzes the tables staleTablesSQL names.
func (s *Store) analyzeStale(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, staleTablesSQL, analyzedTables)
	if err != nil {
		return err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(stale) == 0 {
		return err
	}
	return analyze(ctx, s.pool, stale)
}

// analyze runs ANALYZE on tables, unless another instance is at it.
func analyze(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, tables []string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var mine bool
		if err := tx.QueryRow(ctx, analyzeLockSQL).Scan(&mine); err != nil || !mine {
			return err
		}
		q := "ANALYZE "
		for i, t := range tables {
			if i > 0 {
				q += ", "
			}
			q += pgx.Identifier{t}.Sanitize()
		}
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: %s: %w", q, err)
		}
		return nil
	})
}
