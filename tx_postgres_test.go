package hooklatch_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// appDatabase is a PostgreSQL schema of the test's own, as an application
// would have, with a ledger table in it; it returns its URL.
func appDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	server, schema := pgtest.ServerURL(t), pgtest.Schema(t)
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+ident+`; CREATE TABLE `+ident+`.ledger (event_id text, note text)`); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(server)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// checkOnce drives h as TestTransactionalEffectsHappenOnce does: a failed
// attempt leaves nothing, the next commits once, a redelivery changes
// nothing.
func checkOnce(t *testing.T, h hooklatch.Handler, fail *bool, runs *int, count func() int) {
	t.Helper()
	ctx := context.Background()
	ev := &hooklatch.Event{ID: "evt-1"}
	if err := h.HandleEvent(ctx, ev); err == nil || count() != 0 {
		t.Fatalf("failed attempt: err %v, %d rows", err, count())
	}
	*fail = false
	if err := h.HandleEvent(ctx, ev); err != nil || count() != 1 {
		t.Fatalf("second attempt: err %v, %d rows", err, count())
	}
	if err := h.HandleEvent(ctx, ev); err != nil || count() != 1 || *runs != 2 {
		t.Fatalf("redelivery: err %v, %d rows, fn ran %d times", err, count(), *runs)
	}
}

// Transactional works on the application's PostgreSQL database through
// database/sql.
func TestTransactionalOnPostgres(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("pgx", appDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var runs int
	fail := true
	h := hooklatch.Transactional(db, "ledger", func(ctx context.Context, tx *sql.Tx, ev *hooklatch.Event) error {
		runs++
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger VALUES ($1, 'charged')`, ev.ID); err != nil {
			return err
		}
		if fail {
			return errors.New("crashed half way")
		}
		return nil
	})
	checkOnce(t, h, &fail, &runs, func() int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ledger`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// TransactionalPgx does the same for an application on pgx itself.
func TestTransactionalPgx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, appDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var runs int
	fail := true
	h := hooklatch.TransactionalPgx(pool, "ledger", func(ctx context.Context, tx pgx.Tx, ev *hooklatch.Event) error {
		runs++
		if _, err := tx.Exec(ctx, `INSERT INTO ledger VALUES ($1, 'charged')`, ev.ID); err != nil {
			return err
		}
		if fail {
			return errors.New("crashed half way")
		}
		return nil
	})
	checkOnce(t, h, &fail, &runs, func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM ledger`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
}
