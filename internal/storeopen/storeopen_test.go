package storeopen_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/hooklatch/hooklatch/internal/storeopen"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

var quiet = storeopen.Options{Logger: slog.New(slog.DiscardHandler)}

func with(use storeopen.Use) storeopen.Options {
	o := quiet
	o.Use = use
	return o
}

// Reading or changing a store that is not there fails with ErrNoStore and
// creates nothing; an owner creates it, and is the only owner of a SQLite
// file, while commands may read it beside the owner.
func TestOpenSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	for _, use := range []storeopen.Use{storeopen.Read, storeopen.Change} {
		if _, err := storeopen.Open(ctx, path, with(use)); !errors.Is(err, store.ErrNoStore) {
			t.Errorf("use %d of a missing file: %v, want ErrNoStore", use, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a reader created %s", path)
	}
	owner, err := storeopen.Open(ctx, path, with(storeopen.Own))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if _, err := storeopen.Open(ctx, path, with(storeopen.Own)); !errors.As(err, new(*sqlite.InUseError)) {
		t.Errorf("a second owner: %v, want an in-use error", err)
	}
	reader, err := storeopen.Open(ctx, path, with(storeopen.Read))
	if err != nil {
		t.Fatalf("reading beside the owner: %v", err)
	}
	reader.Close()
}

// On PostgreSQL a schema no serve created is no store for the commands,
// and they leave it uncreated; an owner creates it.
func TestOpenPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	if _, err := storeopen.Open(ctx, url, with(storeopen.Read)); !errors.Is(err, store.ErrNoStore) {
		t.Errorf("reading a schema serve never created: %v, want ErrNoStore", err)
	}
	owner, err := storeopen.Open(ctx, url, with(storeopen.Own))
	if err != nil {
		t.Fatal(err)
	}
	owner.Close()
	reader, err := storeopen.Open(ctx, url, with(storeopen.Change))
	if err != nil {
		t.Fatalf("changing the store an owner created: %v", err)
	}
	reader.Close()
}

// Reading a PostgreSQL schema an older hooklatch wrote names the schema
// and the server and says what to do, and is a *store.SchemaError like
// SQLite's.
func TestReadOlderPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schema := pgtest.Schema(t)
	url := pgtest.WithSchema(t, pgtest.ServerURL(t), schema)
	owner, err := postgres.Open(ctx, url, postgres.Options{Logger: quiet.Logger})
	if err != nil {
		t.Fatal(err)
	}
	_, err = owner.Pool().Exec(ctx, `DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`)
	owner.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = storeopen.Open(ctx, url, with(storeopen.Read))
	want := "schema " + schema + " at " + storeopen.Redact(url) + " was written by an older hooklatch: serve brings it up to date when it next starts on it"
	if !errors.As(err, new(*store.SchemaError)) || err.Error() != want {
		t.Errorf("reading an older schema: %v, want a *store.SchemaError saying %q", err, want)
	}
}
