// Package postgres is the store for several hooklatch instances on one
// PostgreSQL database.
//
// Open takes a postgres:// URL. Each installation lives in a schema of its
// own, named by the URL's schema parameter (else its search_path, else
// "hooklatch"), so installations, tenants and tests never see each other's
// rows. The schema is created and migrated by Open under an advisory lock:
// several instances starting at once migrate it once.
//
// Appends are group-committed: writer goroutines gather the appends waiting
// at that moment into one statement (a multi-row INSERT … ON CONFLICT DO
// NOTHING RETURNING, with the events' deliveries), and each caller is
// answered only once that statement has committed. The write runs under
// the store's own timeout, never the request's: a sender that hangs up
// cannot cancel a write others share. Dedupe is done by the database's
// unique indexes, so it holds across instances. Deliveries are claimed
// with FOR UPDATE SKIP LOCKED under a lease that names the claiming
// instance, and new work is announced with NOTIFY (see ListenForWork).
// While an instance's dispatcher has a free place, its appends insert
// their deliveries already claimed by it and hand them over once
// committed (store.AppendClaimer, handoff.go): no claim, and no NOTIFY.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hooklatch/hooklatch/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultSchema is the schema a URL without schema= or search_path uses.
const DefaultSchema = "hooklatch"

// IsURL reports whether location names a PostgreSQL database rather than
// a file.
func IsURL(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Options tune the store. The zero value is a good default.
type Options struct {
	// QueueSize bounds the appends waiting for a writer. When it is full,
	// Append returns store.ErrBusy at once. Defaults to 4096.
	QueueSize int

	// MaxBatch bounds how many appends share one statement. Defaults to 256.
	MaxBatch int

	// MaxBatchBytes bounds the bodies one statement carries. Defaults to
	// 8 MiB.
	MaxBatchBytes int

	// Writers is how many batches of appends may be committing at once.
	// Defaults to 2.
	Writers int

	// WriteTimeout bounds one batch's write, whatever its callers' contexts
	// say. Defaults to 10s.
	WriteTimeout time.Duration

	// MaxConns bounds the pool for everything but appends (which have
	// Writers connections of their own), unless the URL sets
	// pool_max_conns. Defaults to 16.
	MaxConns int

	// ReadOnly opens an existing store for reading: Open neither creates
	// nor migrates the schema, fails with store.ErrNoStore when it holds
	// no store and with a *store.SchemaError when its version is not this
	// build's, and every transaction is read-only. Defaults to false.
	ReadOnly bool

	// MustExist makes Open fail with store.ErrNoStore, rather than create
	// one, when the schema holds no store. It migrates an older one.
	// Defaults to false.
	MustExist bool

	// Logger receives the writers' errors. Defaults to slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 8 << 20
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Store is a store.Store on one PostgreSQL schema.
type Store struct {
	opts    Options
	pool    *pgxpool.Pool
	writes  *pgxpool.Pool // the append writers' own, Options.Writers connections
	schema  string
	channel string // NOTIFY channel of this schema
	id      string // this Store's NOTIFY payload, to tell its own apart

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *appendReq
	// completions wait for the completion writer; guarded by mu likewise.
	completions chan *completeReq
	wg          sync.WaitGroup // the writers and the notifier

	work chan struct{} // asks the notifier for a NOTIFY
	stop chan struct{} // closed by Close, for the loops that only wait

	pruneMu    sync.Mutex
	pruneAfter int64       // the seq the next Prune goes on after
	backfilled atomic.Bool // no event is left without its subject's state (backfill.go)

	// ordered names the destinations that order by subject, as this
	// store last recorded or read the routes (store.OrderSubject).
	ordered atomic.Pointer[map[string]bool]

	// onAppend is the dispatcher's, while it takes deliveries as their
	// appends create them (handoff.go).
	onAppend atomic.Pointer[store.AppendClaims]
}

var _ store.Store = (*Store)(nil)

// Open connects to the database rawURL names and brings its schema up to
// date (see Options.ReadOnly and MustExist for when it does not).
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, schema, err := parseURL(rawURL, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if opts.ReadOnly {
		err = checkSchema(ctx, pool, schema)
	} else {
		err = migrate(ctx, pool, schema, opts.MustExist)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	// The append writers have connections of their own: reads, claims and
	// commands cannot take the pool away from the acknowledgements, and
	// when the writers cannot keep up the bounded queue fills and answers
	// ErrBusy.
	wcfg := cfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = int32(opts.Writers), 0
	writes, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{
		opts:    opts,
		pool:    pool,
		writes:  writes,
		schema:  schema,
		channel: workChannel(schema),
		id:      strconv.FormatInt(time.Now().UnixNano(), 36),
		queue:   make(chan *appendReq, opts.QueueSize),
		// Completions wait for this one writer.
		completions: make(chan *completeReq, opts.QueueSize),
		work:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
	}
	if err := s.loadOrdered(ctx); err != nil {
		pool.Close()
		writes.Close()
		return nil, err
	}
	for range opts.Writers {
		s.wg.Go(s.writeLoop)
	}
	s.wg.Go(s.completeLoop)
	s.wg.Go(s.notifyLoop)
	if !opts.ReadOnly {
		s.wg.Go(s.analyzeLoop)
	}
	return s, nil
}

// parseURL reads rawURL into a pool configuration whose connections all
// work in the installation's schema, and returns that schema.
func parseURL(rawURL string, opts Options) (*pgxpool.Config, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || !IsURL(rawURL) {
		return nil, "", fmt.Errorf("postgres: %q is not a postgres:// URL", Redact(rawURL))
	}
	q := u.Query()
	schema := q.Get("schema")
	q.Del("schema")
	if schema == "" {
		schema, _, _ = strings.Cut(q.Get("search_path"), ",")
		schema = strings.Trim(strings.TrimSpace(schema), `"`)
	}
	q.Del("search_path")
	if schema == "" {
		schema = DefaultSchema
	}
	if !q.Has("pool_max_conns") {
		q.Set("pool_max_conns", strconv.Itoa(opts.MaxConns))
	}
	if !q.Has("application_name") {
		q.Set("application_name", "hooklatch") // so an operator can tell its sessions in pg_stat_activity
	}
	if !q.Has("connect_timeout") {
		q.Set("connect_timeout", "5")
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, "", fmt.Errorf("postgres: %s: %w", Redact(rawURL), err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	if opts.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	// The store's statements are short index walks: JIT compiling one
	// costs more than running it (tens to hundreds of milliseconds on a
	// large table whose estimates cross jit_above_cost). A URL may still
	// set jit=on.
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return cfg, schema, nil
}

// Redact returns location with a URL's password hidden, for messages and
// logs; a location that is not a postgres:// URL is returned as it is.
func Redact(location string) string {
	if !IsURL(location) {
		return location
	}
	u, err := url.Parse(location)
	if err != nil {
		return "the store URL"
	}
	// libpq also takes the password as a parameter (?password=…,
	// ?sslpassword=…).
	if q := u.Query(); u.RawQuery != "" {
		masked := false
		for name := range q {
			if strings.Contains(strings.ToLower(name), "password") {
				q.Set(name, "xxxxx")
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.Redacted()
}

// Schema names the schema the store lives in.
func (s *Store) Schema() string { return s.schema }

// migrationNames lists the embedded migrations in order.
func migrationNames() ([]string, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	return names, err
}

// migrationLockKey is the advisory lock that serializes the migrations of
// one schema across every instance starting at once.
const migrationLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('hooklatch migrate ' || $1, 0))`

// migrate creates the schema if needed and applies the embedded
// migrations it has not seen, in one transaction under an advisory lock.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, mustExist bool) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, migrationLockSQL, schema); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	current, err := schemaVersion(ctx, tx)
	if errors.Is(err, store.ErrNoStore) {
		if mustExist {
			return fmt.Errorf("%w in schema %s", store.ErrNoStore, schema)
		}
		ident := pgx.Identifier{schema}.Sanitize()
		for _, q := range []string{
			`CREATE SCHEMA IF NOT EXISTS ` + ident,
			`SET LOCAL search_path TO ` + ident,
			`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("postgres: create schema %s: %w", schema, err)
			}
		}
	} else if err != nil {
		return err
	}
	if current > len(names) {
		return fmt.Errorf("postgres: schema %s is at version %d, newer than this build knows (%d): upgrade hooklatch", schema, current, len(names))
	}
	for i := current; i < len(names); i++ {
		script, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(script)); err != nil {
			return fmt.Errorf("postgres: migrate %s: %s: %w", schema, names[i], err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, names[i]); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", schema, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate %s: commit: %w", schema, err)
	}
	if current < len(names) {
		if err := analyzeMigrated(ctx, pool); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", schema, err)
		}
	}
	return nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion reads the version of the schema the connection's
// search_path names, or store.ErrNoStore when it holds no store.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	if !exists {
		return 0, store.ErrNoStore
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

// checkSchema fails, with store.ErrNoStore or a *store.SchemaError,
// unless the schema is exactly at this build's version.
func checkSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	names, err := migrationNames()
	if err != nil {
		return err
	}
	v, err := schemaVersion(ctx, pool)
	if errors.Is(err, store.ErrNoStore) {
		return fmt.Errorf("%w in schema %s", store.ErrNoStore, schema)
	}
	if err != nil {
		return err
	}
	if v != len(names) {
		return &store.SchemaError{Where: "schema " + schema, Version: v, Want: len(names)}
	}
	return nil
}

// Ready implements store.Store: it makes a real write, so a read-only or
// unreachable database is not ready.
func (s *Store) Ready(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('ready_probe', now()::text)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
	if err != nil {
		return fmt.Errorf("postgres: ready probe: %w", err)
	}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Close implements store.Store. It stops taking appends, lets the writers
// commit everything already queued, then closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	close(s.completions)
	close(s.work)
	close(s.stop)
	s.mu.Unlock()
	s.wg.Wait()
	s.writes.Close()
	s.pool.Close()
	return nil
}

// Stats implements store.Store. It sums the counters the writers keep
// (see migrations/0003_counters.sql), so it costs the same at any size;
// the rejection log it counts is capped.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	var (
		st                                            store.Stats
		pending, inFlight, succeeded, dead, discarded int64
	)
	err := s.pool.QueryRow(ctx, `
SELECT COALESCE(SUM(events), 0)::bigint, COALESCE(SUM(duplicates), 0)::bigint, COALESCE(SUM(attention), 0)::bigint,
       COALESCE(SUM(pending), 0)::bigint, COALESCE(SUM(in_flight), 0)::bigint, COALESCE(SUM(succeeded), 0)::bigint,
       COALESCE(SUM(dead), 0)::bigint, COALESCE(SUM(discarded), 0)::bigint,
       (SELECT COUNT(*) FROM rejections)
  FROM counters`).Scan(&st.Events, &st.Duplicates, &st.Attention, &pending, &inFlight, &succeeded, &dead, &discarded, &st.Rejections)
	if err != nil {
		return st, fmt.Errorf("postgres: stats: %w", err)
	}
	st.Deliveries = map[store.DeliveryStatus]int64{}
	for status, n := range map[store.DeliveryStatus]int64{
		store.DeliveryPending: pending, store.DeliveryInFlight: inFlight, store.DeliverySucceeded: succeeded,
		store.DeliveryDead: dead, store.DeliveryDiscarded: discarded,
	} {
		if n != 0 {
			st.Deliveries[status] = n
		}
	}
	if st.HeldSubjects, err = s.heldSubjects(ctx); err != nil {
		return st, fmt.Errorf("postgres: stats: %w", err)
	}
	return st, nil
}

// ts is t as a timestamptz parameter: NULL when zero.
func ts(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// fromTS is a scanned timestamptz as the store's types hold it: UTC, zero
// when NULL.
func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// isServerError reports whether err is the server refusing a statement,
// as opposed to the connection failing.
func isServerError(err error) bool {
	_, ok := errors.AsType[*pgconn.PgError](err)
	return ok
}

// Pool is the store's connection pool, for tests and tools that look at
// the database directly.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// WritePool is the append writers' own pool, for tests.
func (s *Store) WritePool() *pgxpool.Pool { return s.writes }
