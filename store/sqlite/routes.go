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
	encoded := make([][]byte, len(routes))
	for i, r := range routes {
		types := r.Types
		if types == nil {
			types = []string{}
		}
		var err error
		if encoded[i], err = json.Marshal(types); err != nil {
			return fmt.Errorf("sqlite: encode route %s: %w", r.Name, err)
		}
	}
	ordered := store.OrderedRoutes(routes)
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM routes`); err != nil {
			return fmt.Errorf("sqlite: set routes: %w", err)
		}
		for i, r := range routes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO routes (position, name, types, ordering) VALUES (?, ?, ?, ?)`, i, r.Name, encoded[i], r.Order); err != nil {
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
	rows, err := s.readDB.QueryContext(ctx, `SELECT name, types, ordering FROM routes ORDER BY position`)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: routes: %w", err)
	}
	defer rows.Close()
	var out []store.Route
	for rows.Next() {
		var (
			r     store.Route
			types []byte
		)
		if err := rows.Scan(&r.Name, &types, &r.Order); err != nil {
			return nil, false, fmt.Errorf("sqlite: routes: %w", err)
		}
		if err := json.Unmarshal(types, &r.Types); err != nil {
			return nil, false, fmt.Errorf("sqlite: decode route %s: %w", r.Name, err)
		}
		if len(r.Types) == 0 {
			r.Types = nil
		}
		out = append(out, r)
	}
	return out, recorded > 0, rows.Err()
}

// orderedRoutes reads which recorded routes order by subject.
func (s *Store) orderedRoutes(ctx context.Context) (map[string]bool, error) {
	routes, _, err := s.Routes(ctx)
	if err != nil {
		return nil, err
	}
	return store.OrderedRoutes(routes), nil
}
