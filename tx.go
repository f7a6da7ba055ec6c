package hooklatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Transactional runs fn inside a transaction on the application's own
// SQLite database and, in that same transaction, records that consumer
// processed the event. A retry of an event already committed (the process
// died after COMMIT but before hooklatch recorded the success) finds the
// record and returns nil without running fn again: the effects in db
// happen exactly once, though delivery is at least once.
//
// The record lives in the table hooklatch_processed, created on first use.
// Replaying an event to a transactional handler is therefore a no-op
// unless its row there is deleted. The SQL is SQLite's.
func Transactional(db *sql.DB, consumer string, fn func(ctx context.Context, tx *sql.Tx, ev *Event) error) Handler {
	var (
		once    sync.Once
		initErr error
	)
	return HandlerFunc(func(ctx context.Context, ev *Event) error {
		once.Do(func() {
			_, initErr = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS hooklatch_processed (
    event_id     TEXT    NOT NULL,
    consumer     TEXT    NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, consumer))`)
		})
		if initErr != nil {
			return fmt.Errorf("hooklatch: create hooklatch_processed: %w", initErr)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("hooklatch: begin: %w", err)
		}
		defer tx.Rollback() // a no-op after Commit

		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM hooklatch_processed WHERE event_id = ? AND consumer = ?`, ev.ID, consumer).Scan(&one)
		switch {
		case err == nil:
			return nil // committed by an earlier attempt
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("hooklatch: check hooklatch_processed: %w", err)
		}
		if err := fn(ctx, tx, ev); err != nil {
			return err
		}
		// Two attempts racing (a lease taken over mid-attempt) cannot both
		// commit: the primary key fails the second, which rolls back.
		if _, err := tx.ExecContext(ctx, `INSERT INTO hooklatch_processed (event_id, consumer, processed_at) VALUES (?, ?, ?)`,
			ev.ID, consumer, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("hooklatch: record processed: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("hooklatch: commit: %w", err)
		}
		return nil
	})
}
