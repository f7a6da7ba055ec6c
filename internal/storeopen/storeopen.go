// Package storeopen opens a store from where it is kept: a SQLite file
// path or a postgres:// URL. It is the one opener serve, the library's
// Relay and the commands that read or change a store all go through, so
// that a location means the same everywhere.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// Use says what the opener of a store does with it.
type Use int

const (
	// Own is serve's and the relay's use: the store is created or brought
	// up to date, and a SQLite file is owned (sqlite.Options.Exclusive):
	// a second owner is refused. A PostgreSQL store has no owner.
	Own Use = iota
	// Read reads a store some serve keeps: it is neither created nor
	// migrated, and every transaction is read-only.
	Read
	// Change changes what a store holds: it must exist already.
	Change
)

// Options tune Open. The location decides which of SQLite and Postgres
// applies.
type Options struct {
	Use      Use
	SQLite   sqlite.Options
	Postgres postgres.Options
	// Logger is the store's, unless its options name one. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// located is what a Read or Change fails with when its location holds no
// store of this build's: the backend's store.ErrNoStore or
// *store.SchemaError (test them with errors.Is and errors.As), told in
// the words of its location, with what to do.
type located struct {
	text string
	err  error
}

func (e *located) Error() string { return e.text }
func (e *located) Unwrap() error { return e.err }

// IsPostgres reports whether location names a PostgreSQL store.
func IsPostgres(location string) bool { return postgres.IsURL(location) }

// Redact is location with any password hidden, for logs and messages.
func Redact(location string) string { return postgres.Redact(location) }

// Open opens the store at location.
func Open(ctx context.Context, location string, opts Options) (store.Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if IsPostgres(location) {
		return openPostgres(ctx, location, opts)
	}
	return openSQLite(ctx, location, opts)
}

func openPostgres(ctx context.Context, url string, opts Options) (store.Store, error) {
	o := opts.Postgres
	if o.Logger == nil {
		o.Logger = opts.Logger
	}
	if opts.Use != Own {
		o.ReadOnly, o.MustExist = opts.Use == Read, true
	}
	st, err := postgres.Open(ctx, url, o)
	if errors.Is(err, store.ErrNoStore) {
		return nil, &located{"no hooklatch store at " + Redact(url) + ": 'hooklatch serve --store' creates it when it first starts on it", err}
	}
	if se, ok := errors.AsType[*store.SchemaError](err); ok {
		return nil, &located{fmt.Sprintf("%s at %s %s", se.Where, Redact(url), versionAdvice(se.Version, se.Want, "")), err}
	}
	if err != nil && opts.Use != Own {
		return nil, fmt.Errorf("store %s: %w", Redact(url), err)
	}
	return st, err // serve tells an unreachable server apart (postgres.Unreachable)
}

func openSQLite(ctx context.Context, path string, opts Options) (store.Store, error) {
	o := opts.SQLite
	if o.Logger == nil {
		o.Logger = opts.Logger
	}
	if opts.Use == Own {
		// The owner of a SQLite store is the only one: a second is refused,
		// and what a crashed predecessor left in flight is due again at once.
		o.Exclusive = true
		return sqlite.Open(ctx, path, o) // serve tells a full disk apart (sqlite.NoSpace)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, &located{"no store at " + path + " (use --store or HOOKLATCH_STORE)", store.ErrNoStore}
	}
	o.ReadOnly = opts.Use == Read
	st, err := sqlite.Open(ctx, path, o)
	if se, ok := errors.AsType[*store.SchemaError](err); ok {
		if se.Version == 0 {
			return nil, &located{se.Where + " is not a hooklatch store", err}
		}
		return nil, &located{se.Where + " " + versionAdvice(se.Version, se.Want, " ('hooklatch serve --store "+path+"')"), err}
	}
	return st, err
}

// versionAdvice says what to do about a store of another version; how
// names serve's command line, when there is one to give.
func versionAdvice(version, want int, how string) string {
	if version < want {
		return "was written by an older hooklatch: serve brings it up to date when it next starts on it" + how
	}
	return "was written by a newer hooklatch: upgrade this one"
}
