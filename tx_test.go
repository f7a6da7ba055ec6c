package hooklatch_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/hooklatch/hooklatch"
)

func TestTransactionalEffectsHappenOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE ledger (event_id TEXT, note TEXT)`); err != nil {
		t.Fatal(err)
	}
	var runs int
	fail := true
	h := hooklatch.Transactional(db, "ledger", func(ctx context.Context, tx *sql.Tx, ev *hooklatch.Event) error {
		runs++
		if _, err := tx.ExecContext(ctx, `INSERT INTO ledger VALUES (?, 'charged')`, ev.ID); err != nil {
			return err
		}
		if fail {
			return errors.New("crashed half way")
		}
		return nil
	})
	count := func() int {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM ledger`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ev := &hooklatch.Event{ID: "evt-1"}

	// A failed attempt leaves nothing behind.
	if err := h.HandleEvent(ctx, ev); err == nil || count() != 0 {
		t.Fatalf("failed attempt: err %v, %d rows", err, count())
	}
	// The next commits its effect once…
	fail = false
	if err := h.HandleEvent(ctx, ev); err != nil || count() != 1 {
		t.Fatalf("second attempt: err %v, %d rows", err, count())
	}
	// …and a redelivery (hooklatch never heard of the success) changes nothing.
	if err := h.HandleEvent(ctx, ev); err != nil || count() != 1 || runs != 2 {
		t.Fatalf("redelivery: err %v, %d rows, fn ran %d times", err, count(), runs)
	}
	// Another consumer of the same event runs on its own.
	other := hooklatch.Transactional(db, "audit", func(ctx context.Context, tx *sql.Tx, ev *hooklatch.Event) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO ledger VALUES (?, 'audited')`, ev.ID)
		return err
	})
	if err := other.HandleEvent(ctx, ev); err != nil || count() != 2 {
		t.Fatalf("second consumer: err %v, %d rows", err, count())
	}
}
