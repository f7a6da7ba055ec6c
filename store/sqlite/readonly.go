package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
)

// mustExist fails, with an error matching fs.ErrNotExist, when there is no
// file at path: a ReadOnly Open must not create one.
func mustExist(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// SchemaError is returned by a ReadOnly Open of a file whose schema this
// build does not read: not a hooklatch store, or one written by an older
// or a newer hooklatch. An older one is brought up to date by opening it
// for writing once.
type SchemaError struct {
	Path    string
	Version int // the file's schema version; 0 when it is not a hooklatch store
	Want    int // the version this build reads
}

func (e *SchemaError) Error() string {
	switch {
	case e.Version == 0:
		return fmt.Sprintf("sqlite: %s is not a hooklatch store", e.Path)
	case e.Version < e.Want:
		return fmt.Sprintf("sqlite: %s was written by an older hooklatch (schema version %d, this build reads %d): open it for writing once to bring it up to date", e.Path, e.Version, e.Want)
	}
	return fmt.Sprintf("sqlite: %s was written by a newer hooklatch (schema version %d, this build reads %d)", e.Path, e.Version, e.Want)
}

// checkSchema fails with a *SchemaError unless db has exactly the schema
// the embedded migrations make.
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
		return &SchemaError{Path: path, Version: current, Want: len(names)}
	}
	return nil
}
