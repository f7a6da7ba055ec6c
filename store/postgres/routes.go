package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
)

// routesLockSQL is the advisory lock that serializes the replacing of
// one schema's routes.
const routesLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hooklatch routes ' || $1, 0))`

// SetRoutes implements store.Store.
func (s *Store) SetRoutes(ctx context.Context, routes []store.Route) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	b := &pgx.Batch{}
	// Instances starting at once each replace the routes: one at a time,
	// or two would both delete what they see and insert the same
	// positions. The lock is held until the batch commits.
	b.Queue(routesLockSQL, s.schema)
	b.Queue(`DELETE FROM routes`)
	for i, r := range routes {
		types := r.Types
		if types == nil {
			types = []string{}
		}
		encoded, err := json.Marshal(types)
		if err != nil {
			return fmt.Errorf("postgres: encode route %s: %w", r.Name, err)
		}
		b.Queue(`INSERT INTO routes (position, name, types, ordering) VALUES ($1, $2, $3, $4)`, i, text(r.Name), string(encoded), text(r.Order))
	}
	b.Queue(`INSERT INTO meta (key, value) VALUES ('routes_recorded', '1') ON CONFLICT (key) DO NOTHING`)
	// A batch runs as one transaction: no reader sees the routes half replaced.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("postgres: set routes: %w", err)
	}
	ordered := store.OrderedRoutes(routes)
	s.ordered.Store(&ordered)
	return nil
}

// Routes implements store.Store.
func (s *Store) Routes(ctx context.Context) ([]store.Route, bool, error) {
	var recorded bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'routes_recorded')`).Scan(&recorded); err != nil {
		return nil, false, fmt.Errorf("postgres: routes: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT name, types, ordering FROM routes ORDER BY position`)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: routes: %w", err)
	}
	defer rows.Close()
	var out []store.Route
	for rows.Next() {
		var (
			r     store.Route
			types string
		)
		if err := rows.Scan(&r.Name, &types, &r.Order); err != nil {
			return nil, false, fmt.Errorf("postgres: routes: %w", err)
		}
		if err := json.Unmarshal([]byte(types), &r.Types); err != nil {
			return nil, false, fmt.Errorf("postgres: decode route %s: %w", r.Name, err)
		}
		if len(r.Types) == 0 {
			r.Types = nil
		}
		out = append(out, r)
	}
	return out, recorded, rows.Err()
}
