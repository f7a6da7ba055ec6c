package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hooklatch/hooklatch/store"
)

// mustExist fails, with store.ErrNoStore (also matching fs.ErrNotExist),
// when there is no file at path: a ReadOnly Open must not create one.
func mustExist(path string) error {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w at %s: %w", store.ErrNoStore, path, fs.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// checkSchema fails with a *store.SchemaError unless db has exactly the
// schema the embedded migrations make.
func checkSchema(ctx context.Context, db *sql.DB, path string) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if current != len(names) {
		return &store.SchemaError{Where: path, Version: current, Want: len(names)}
	}
	return nil
}
