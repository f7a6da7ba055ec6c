package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hooklatch/hooklatch/store"
)

// SetRoutes implements store.Store.
func (s *Store) SetRoutes(ctx context.Context, routes []store.Route) error {
	types, sources := make([][]byte, len(routes)), make([][]byte, len(routes))
	for i, r := range routes {
		var err error
		if types[i], err = encodeList(r.Types); err == nil {
			sources[i], err = encodeList(r.Sources)
		}
		if err != nil {
			return fmt.Errorf("sqlite: encode route %s: %w", r.Name, err)
		}
	}
	ordered := store.OrderedRoutes(routes)
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM routes`); err != nil {
			return fmt.Errorf("sqlite: set routes: %w", err)
		}
		for i, r := range routes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO routes (position, name, types, ordering, sources, filter, rate, concurrency, concurrency_shared) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				i, r.Name, types[i], r.Order, sources[i], r.Filter, r.Rate, r.Concurrency, r.ConcurrencyShared); err != nil {
				return fmt.Errorf("sqlite: set route %s: %w", r.Name, err)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('routes_recorded', '1')
			ON CONFLICT (key) DO NOTHING`)
		if err == nil {
			// Should the commit fail, the routes stay as they were in the
			// file but not here: the writer's next appends order as asked.
			s.ordered = ordered
		}
		return err
	})
}

// Routes implements store.Store.
func (s *Store) Routes(ctx context.Context) ([]store.Route, bool, error) {
	var recorded int
	if err := s.readDB.QueryRowContext(ctx, `SELECT COUNT(*) FROM meta WHERE key = 'routes_recorded'`).Scan(&recorded); err != nil {
		return nil, false, fmt.Errorf("sqlite: routes: %w", err)
	}
	rows, err := s.readDB.QueryContext(ctx, `SELECT name, types, ordering, sources, filter, rate, concurrency, concurrency_shared FROM routes ORDER BY position`)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: routes: %w", err)
	}
	defer rows.Close()
	var out []store.Route
	for rows.Next() {
		var (
			r              store.Route
			types, sources []byte
		)
		if err := rows.Scan(&r.Name, &types, &r.Order, &sources, &r.Filter, &r.Rate, &r.Concurrency, &r.ConcurrencyShared); err != nil {
			return nil, false, fmt.Errorf("sqlite: routes: %w", err)
		}
		var err error
		if r.Types, err = decodeList(types); err == nil {
			r.Sources, err = decodeList(sources)
		}
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: decode route %s: %w", r.Name, err)
		}
		out = append(out, r)
	}
	return out, recorded > 0, rows.Err()
}

// encodeList encodes a route's types or sources as a JSON array; nil: [].
func encodeList(list []string) ([]byte, error) {
	if list == nil {
		list = []string{}
	}
	return json.Marshal(list)
}

// decodeList decodes what encodeList encoded; []: nil.
func decodeList(b []byte) ([]string, error) {
	var list []string
	if err := json.Unmarshal(b, &list); err != nil || len(list) == 0 {
		return nil, err
	}
	return list, nil
}

// orderedRoutes reads which recorded routes order by subject.
func (s *Store) orderedRoutes(ctx context.Context) (map[string]bool, error) {
	routes, _, err := s.Routes(ctx)
	if err != nil {
		return nil, err
	}
	return store.OrderedRoutes(routes), nil
}
