package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// A read-only open never creates a file, never migrates one, and refuses
// writes; a file it cannot read says why.
func TestReadOnlyNeverCreatesOrMigrates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	ro := sqlite.Options{ReadOnly: true}

	missing := filepath.Join(dir, "missing.db")
	if _, err := sqlite.Open(ctx, missing, ro); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, store.ErrNoStore) {
		t.Errorf("no file: err = %v, want store.ErrNoStore and fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a read-only open created %s: %v", missing, err)
	}

	s, path := open(t, sqlite.Options{})
	ev := storetest.NewEvent("sent", "ro")
	if _, err := s.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.Open(ctx, path, ro)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.GetEvent(ctx, ev.ID); err != nil || got.DedupeKey != "ro" {
		t.Errorf("read back: %v, %v", got, err)
	}
	if _, err := r.Append(ctx, storetest.NewEvent("sent", "ro2")); err == nil {
		t.Error("a read-only store took a write")
	}
	if err := r.Close(); err != nil {
		t.Errorf("close: %v", err)
	}

	// An older schema is left as it is, and named.
	setVersion := func(path string, v int) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			t.Fatal(err)
		}
	}
	setVersion(path, 1)
	if _, err := sqlite.Open(ctx, path, ro); !isSchemaError(err, 1) || !strings.Contains(err.Error(), "older hooklatch") {
		t.Errorf("older schema: err = %v, want a SchemaError naming an older hooklatch", err)
	}
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 1 {
		t.Errorf("user_version after a read-only open = %d, %v; want 1, untouched", v, err)
	}

	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(ctx, empty, ro); !isSchemaError(err, 0) || !strings.Contains(err.Error(), "not a hooklatch store") {
		t.Errorf("empty file: err = %v, want a SchemaError: not a hooklatch store", err)
	}
}

func isSchemaError(err error, version int) bool {
	e, ok := errors.AsType[*store.SchemaError](err)
	return ok && e.Version == version && e.Want > version
}

// A read-only open fails with the same errors as on PostgreSQL: a missing
// file is store.ErrNoStore, an older or newer file a *store.SchemaError.
func TestOpenErrorsAreTheStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ro := sqlite.Options{ReadOnly: true}
	_, noStore := sqlite.Open(ctx, filepath.Join(t.TempDir(), "missing.db"), ro)

	s, path := open(t, sqlite.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	openAt := func(version int) error {
		if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
			t.Fatal(err)
		}
		_, err := sqlite.Open(ctx, path, ro)
		return err
	}
	storetest.CheckOpenErrors(t, path, noStore, openAt(v-1), openAt(v+1))
}

// A read-only store leaves the WAL to the process that writes: closing it
// does not checkpoint, which under a busy writer could wait for seconds.
func TestReadOnlyNeverCheckpoints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, path := open(t, sqlite.Options{CheckpointInterval: time.Hour})
	for i := range 20 {
		if _, err := w.Append(ctx, storetest.NewEvent("sent", fmt.Sprint("wal-", i))); err != nil {
			t.Fatal(err)
		}
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := walSize()
	if before == 0 {
		t.Fatal("the WAL is empty before the test begins")
	}
	r, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ListEvents(ctx, store.EventFilter{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if after := walSize(); after != before {
		t.Errorf("the WAL went from %d to %d bytes when a read-only store closed", before, after)
	}
}
