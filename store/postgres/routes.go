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
		types, err := encodeList(r.Types)
		if err != nil {
			return fmt.Errorf("postgres: encode route %s: %w", r.Name, err)
		}
		sources, err := encodeList(r.Sources)
		if err != nil {
			return fmt.Errorf("postgres: encode route %s: %w", r.Name, err)
		}
		b.Queue(`INSERT INTO routes (position, name, types, ordering, sources, filter, rate, concurrency, concurrency_shared) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			i, text(r.Name), types, text(r.Order), sources, text(r.Filter), text(r.Rate), r.Concurrency, r.ConcurrencyShared)
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
	rows, err := s.pool.Query(ctx, `SELECT name, types, ordering, sources, filter, rate, concurrency, concurrency_shared FROM routes ORDER BY position`)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: routes: %w", err)
	}
	defer rows.Close()
	var out []store.Route
	for rows.Next() {
		var (
			r              store.Route
			types, sources string
		)
		if err := rows.Scan(&r.Name, &types, &r.Order, &sources, &r.Filter, &r.Rate, &r.Concurrency, &r.ConcurrencyShared); err != nil {
			return nil, false, fmt.Errorf("postgres: routes: %w", err)
		}
		var err error
		if r.Types, err = decodeList(types); err == nil {
			r.Sources, err = decodeList(sources)
		}
		if err != nil {
			return nil, false, fmt.Errorf("postgres: decode route %s: %w", r.Name, err)
		}
		out = append(out, r)
	}
	return out, recorded, rows.Err()
}

// encodeList encodes a route's types or sources as a JSON array; nil: [].
func encodeList(list []string) (string, error) {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// decodeList decodes what encodeList encoded; []: nil.
func decodeList(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil || len(list) == 0 {
		return nil, err
	}
	return list, nil
}
