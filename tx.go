package hooklatch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/event"
)

// createProcessedSQL makes the table of processed events, in SQL that
// SQLite and PostgreSQL both take.
const createProcessedSQL = `CREATE TABLE IF NOT EXISTS hooklatch_processed (
    event_id     TEXT   NOT NULL,
    consumer     TEXT   NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (event_id, consumer))`

// processedSQL returns the statements that check and record a processed
// event, with SQLite's placeholders or PostgreSQL's.
func processedSQL(sqlite bool) (check, record string) {
	check = `SELECT 1 FROM hooklatch_processed WHERE event_id = $1 AND consumer = $2`
	record = `INSERT INTO hooklatch_processed (event_id, consumer, processed_at) VALUES ($1, $2, $3)`
	if sqlite {
		r := strings.NewReplacer("$1", "?", "$2", "?", "$3", "?")
		check, record = r.Replace(check), r.Replace(record)
	}
	return check, record
}

// TxBeginner begins pgx transactions: a *pgxpool.Pool or a *pgx.Conn.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// TransactionalPgx is Transactional for an application on pgx: fn runs in
// a transaction of db's, which also records that consumer processed the
// event, so its effects happen exactly once.
func TransactionalPgx(db TxBeginner, consumer string, fn func(ctx context.Context, tx pgx.Tx, ev *Event) error) Handler {
	checkSQL, recordSQL := processedSQL(false)
	var (
		once    sync.Once
		initErr error
	)
	return HandlerFunc(func(ctx context.Context, ev *Event) error {
		once.Do(func() {
			initErr = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, createProcessedSQL); return err })
		})
		if initErr != nil {
			return fmt.Errorf("hooklatch: create hooklatch_processed: %w", initErr)
		}
		return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
			var one int
			err := tx.QueryRow(ctx, checkSQL, ev.ID, consumer).Scan(&one)
			switch {
			case err == nil:
				return nil // committed by an earlier attempt
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("hooklatch: check hooklatch_processed: %w", err)
			}
			if err := fn(ctx, tx, ev); err != nil {
				return err
			}
			// Two attempts racing cannot both commit: the primary key fails
			// the second, which rolls back.
			if _, err := tx.Exec(ctx, recordSQL, ev.ID, consumer, time.Now().UnixNano()); err != nil {
				return fmt.Errorf("hooklatch: record processed: %w", err)
			}
			return nil
		})
	})
}

// Transactional runs fn inside a transaction on the application's own
// database (SQLite or PostgreSQL, by db's driver) and, in that same
// transaction, records that consumer processed the event. A retry of an
// event already committed (the process died after COMMIT but before
// hooklatch recorded the success) finds the record and returns nil without
// running fn again: the effects in db happen exactly once, though delivery
// is at least once.
//
// The record lives in the table hooklatch_processed, created on first use.
// Replaying an event to a transactional handler is therefore a no-op
// unless its row there is deleted. For message statuses decoded, see
// TransactionalMessages; for an application on pgx itself,
// TransactionalPgx.
func Transactional(db *sql.DB, consumer string, fn func(ctx context.Context, tx *sql.Tx, ev *Event) error) Handler {
	once := newProcessed(db, consumer)
	return HandlerFunc(func(ctx context.Context, ev *Event) error {
		return once.run(ctx, ev, func(tx *sql.Tx) error { return fn(ctx, tx, ev) })
	})
}

// TransactionalMessages is Transactional for outbound message status
// events, as OnMessage decodes them: fn gets the status, inside the
// transaction, and the route takes only message statuses (with Types
// "message.*", not message.received). A payload that does not decode
// sends the delivery to dead before any transaction begins.
func TransactionalMessages(db *sql.DB, consumer string, fn func(ctx context.Context, tx *sql.Tx, ev *Event, m *event.MessageStatus) error) Handler {
	once := newProcessed(db, consumer)
	return OnMessage(func(ctx context.Context, ev *Event, m *event.MessageStatus) error {
		return once.run(ctx, ev, func(tx *sql.Tx) error { return fn(ctx, tx, ev, m) })
	})
}

// processed runs a consumer's work on an event at most once, in a
// transaction of db's that records it in hooklatch_processed.
type processed struct {
	db                  *sql.DB
	consumer            string
	checkSQL, recordSQL string
	once                sync.Once
	initErr             error
}

func newProcessed(db *sql.DB, consumer string) *processed {
	p := &processed{db: db, consumer: consumer}
	p.checkSQL, p.recordSQL = processedSQL(strings.Contains(strings.ToLower(fmt.Sprintf("%T", db.Driver())), "sqlite"))
	return p
}

// run runs fn in a transaction that also records the event, unless an
// earlier attempt committed it.
func (p *processed) run(ctx context.Context, ev *Event, fn func(tx *sql.Tx) error) error {
	p.once.Do(func() { _, p.initErr = p.db.ExecContext(ctx, createProcessedSQL) })
	if p.initErr != nil {
		return fmt.Errorf("hooklatch: create hooklatch_processed: %w", p.initErr)
	}
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("hooklatch: begin: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	var one int
	err = tx.QueryRowContext(ctx, p.checkSQL, ev.ID, p.consumer).Scan(&one)
	switch {
	case err == nil:
		return nil // committed by an earlier attempt
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("hooklatch: check hooklatch_processed: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	// Two attempts racing (a lease taken over mid-attempt) cannot both
	// commit: the primary key fails the second, which rolls back.
	if _, err := tx.ExecContext(ctx, p.recordSQL, ev.ID, p.consumer, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("hooklatch: record processed: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("hooklatch: commit: %w", err)
	}
	return nil
}
