package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"

	msqlite "modernc.org/sqlite"
)

func init() {
	// Commit with fdatasync, as SQLite builds for Linux do: it flushes the
	// data and the size needed to read it back, so a commit is exactly as
	// durable, without waiting for a timestamp update to go through the
	// file system's journal.
	msqlite.Fdatasync(true)
}

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store. The zero value is a good default.
type Options struct {
	// QueueSize bounds the writes waiting for the writer. When it is full,
	// Append returns store.ErrBusy at once. Defaults to 4096.
	QueueSize int

	// MaxBatch bounds how many writes share one transaction. Defaults to 512.
	MaxBatch int

	// MaxSizeBytes caps the database file. Past it, writes fail (and the
	// receiver answers 503) instead of filling the disk. Defaults to no cap.
	MaxSizeBytes int64

	// BusyTimeout is how long a statement waits for a lock held by another
	// process (a CLI command working on the same file). Defaults to 5s.
	BusyTimeout time.Duration

	// ReadConns bounds the read pool. Defaults to 4.
	ReadConns int

	// CheckpointInterval is how often the WAL is copied back into the
	// database file by a connection of its own, off the writer's path.
	// It is also how long the writer waits, once writes stop, before it
	// empties the WAL file (so an idle store leaves no large WAL behind).
	// Defaults to 1s.
	CheckpointInterval time.Duration

	// MaxWALBytes bounds the write-ahead log under any sustained load.
	// Once the writer has appended this much to the log since it last
	// started over, it rewinds the log between two batches: it waits
	// while the last frames are copied into the database file (the
	// checkpointer has copied the others already) and the next batch
	// writes from the log's start. The file then stays near this size
	// (one batch more at most) and is emptied once writes stop. Defaults
	// to 64 MiB.
	MaxWALBytes int64

	// Exclusive makes this Store the file's owner: Open takes a lock that
	// lasts until Close or the end of the process, and fails with an
	// *InUseError while another owner holds it, in this process or
	// another. As no other owner can be running, Open also releases the
	// deliveries the previous owner left in flight (their attempts are
	// recorded as lost, as when a lease expires), so they are claimable
	// at once. serve and listen own their store; commands that inspect or
	// adjust it while serve runs must not. Defaults to false.
	Exclusive bool

	// Logger receives the writer's errors. Defaults to slog.Default().
	Logger *slog.Logger

	// ReadOnly opens an existing store for reading: Open fails with
	// store.ErrNoStore (also matching fs.ErrNotExist) when there is no
	// file at the path, and it neither creates nor migrates one (a schema
	// this build does not read is a *store.SchemaError). Writes fail, and it never checkpoints:
	// a command reading the store of a busy serve must not wait for the
	// WAL to drain. Defaults to false.
	ReadOnly bool

	// writerPragmas are set on the writer's connection after the others;
	// benchmarks set them (export_test.go) to compare settings. SQLite's
	// default page cache, 2 MB, is kept: at 1.5 M events a larger one did
	// not make appends faster (BenchmarkIngestAtSize), as they are bound
	// by the pages a commit writes, not by those it reads.
	writerPragmas []string
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = time.Second
	}
	if o.MaxWALBytes <= 0 {
		o.MaxWALBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Store is a store.Store on one SQLite file.
type Store struct {
	opts         Options
	lock         *ownerLock // held by an owner (Options.Exclusive)
	writeDB      *sql.DB    // exactly one connection, used by the writer goroutine only
	readDB       *sql.DB
	checkpointDB *sql.DB // one connection, for checkpoints only

	appendStmt *sql.Stmt
	// Prepared once on the writer's connection: re-parsing SQL for every
	// write costs more than the write.
	stmts map[string]*sql.Stmt // the writer's other statements (writerStatements)
	// claimSome holds the claims of some destinations, by how many
	// (claimSomeStmt).
	claimSomeMu sync.Mutex
	claimSome   map[int]*sql.Stmt
	// Prepared on the read pool: database/sql prepares them once per
	// connection. The dispatcher runs the last two at every claim and
	// every wait: parsing them each time cost more than running them.
	eventRangeStmt, nextDueStmt, claimedSubjectsStmt *sql.Stmt

	wal walLog // the writer goroutine's own
	// framesTotal counts the frames the writer appended to the log over
	// the Store's life: what its writes cost the disk (benchmarks).
	framesTotal atomic.Int64

	counts counts // the writer goroutine's own: the open transaction's changes to the counters
	// runSubjects is the writer goroutine's own: the events with a
	// subject of the run of appends it is inserting (recordSubjects).
	runSubjects []*writeReq

	// onAppend is the dispatcher that claims deliveries as appends create
	// them (handoff.go); nil: none does. txHook is the one the writer's
	// open transaction uses, handing the deliveries it took for it, and
	// inserted how many of those are inserted. The writer goroutine's own.
	onAppend atomic.Pointer[store.AppendClaims]
	txHook   *store.AppendClaims
	handing  []handed
	inserted int
	// pausedNow names the destinations paused, as this process's writes
	// left them (SetPaused): appends take no delivery to them.
	pausedNow map[string]bool

	// ordered names the destinations that order by subject, as the
	// routes last recorded say (store.OrderSubject). The writer
	// goroutine's own once Open has read it.
	ordered map[string]bool

	pruneMu    sync.Mutex
	pruneFrom  int64       // the seq after which the next prune batch looks (retention.go)
	pruneChunk pruneChunk  // the size of the next retention transaction
	backfilled atomic.Bool // no event is left without its subject's state (backfill.go)

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	queue  chan *writeReq
	done   chan struct{} // closed when the writer has drained the queue
	// spare holds writes that wait for the writer's spare time
	// (retention's): the writer runs one, alone, when its pace allows
	// and no other write waits or it has waited maxSpareWait (wal.go).
	// held and pace are the writer goroutine's own: a spare write taken,
	// not yet run, and the pace of spare writes.
	spare        chan *writeReq
	held         *writeReq
	pace         sparePace
	maxSpareWait time.Duration

	nudge           chan struct{} // asks the checkpointer for a checkpoint now
	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// writeReq is one write waiting for the writer: an append or a function
// run inside the batch's transaction.
type writeReq struct {
	ev      *store.NewEvent
	headers []byte   // ev.Headers as JSON, encoded by the caller, not the writer
	bodySum [32]byte // SHA-256 of ev.Body, likewise
	// keyDigest and bodyDigest are what kept keys match ev by (keptDigests).
	keyDigest, bodyDigest []byte
	rank                  int  // ev's lifecycle rank (event.LifecycleRank)
	stale                 bool // ev was stale on arrival (recordSubjects)
	tookOne               bool // its transaction took one of ev's deliveries (handoff.go)
	leftPending           bool // and left another pending
	fn                    func(ctx context.Context, tx *sql.Tx) error
	// completion, when set, is recorded by the writer together with the
	// other completions of its batch (completions.go); lost reports that
	// its owner no longer held the lease.
	completion *store.Completion
	lost       bool

	// spareSince, when set, is when this spare write was queued;
	// started is when the writer began its transaction, and frames how
	// many it appended to the log (spare writes only).
	spareSince, started time.Time
	frames              int64

	res  store.AppendResult
	err  error
	done chan struct{}
}

// InUseError is returned by Open with Options.Exclusive when another owner
// holds the store.
type InUseError struct {
	Path string
	PID  int // the holder's process id; 0 when unknown
}

func (e *InUseError) Error() string {
	holder := "another hooklatch"
	if e.PID > 0 {
		holder += fmt.Sprintf(" (pid %d)", e.PID)
	}
	return fmt.Sprintf("store %s is in use by %s: one process at a time may serve from a store; stop that one or give this one a store of its own", e.Path, holder)
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if opts.ReadOnly {
		if err := mustExist(path); err != nil {
			return nil, err
		}
	}
	opts = opts.withDefaults()
	var lock *ownerLock
	if opts.Exclusive {
		var err error
		if lock, err = lockOwner(path); err != nil {
			return nil, err
		}
	}
	s, err := openFile(ctx, path, opts)
	if err != nil {
		lock.release()
		return nil, err
	}
	s.lock = lock
	if s.ordered, err = s.orderedRoutes(ctx); err != nil {
		s.release()
		return nil, err
	}
	paused, err := s.Paused(ctx)
	if err != nil {
		s.release()
		return nil, err
	}
	for name := range paused {
		s.pausedNow[name] = true
	}
	if lock != nil {
		if err := s.releaseInFlight(ctx); err != nil {
			s.release()
			return nil, err
		}
	}
	if opts.Exclusive {
		// Start from an empty log, whatever the previous owner left.
		s.truncateWAL()
	}
	go s.writeLoop()
	if opts.ReadOnly {
		close(s.checkpointsDone) // checkpoints are the writing process's business
	} else {
		go s.checkpointLoop()
	}
	return s, nil
}

// openFile opens the connections and prepares the writer's statements.
func openFile(ctx context.Context, path string, opts Options) (*Store, error) {
	type role int
	const (
		writer role = iota
		reader
		checkpointer
	)
	dsn := func(r role) string {
		busy := opts.BusyTimeout
		if r == checkpointer {
			// The writer waits for the checkpoints that rewind the log: a
			// reader or another process in the way makes one give up soon
			// and be tried again later, rather than hold the writes back.
			busy = min(busy, checkpointBusyTimeout)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busy.Milliseconds(), 10)+")")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(1)")
		switch r {
		case writer:
			q.Set("_txlock", "immediate")
			q.Add("_pragma", "wal_autocheckpoint(0)")
			// A statement inside the writer's transaction keeps the pages
			// it changes in a statement journal, so that it alone can be
			// rolled back; past 64 KiB SQLite spills that journal to a
			// temporary file, and writing it cost the append a seventh of
			// its CPU. Kept in memory, it never touches the disk: it is
			// thrown away with the statement, and a crash loses nothing
			// the log had not already made durable.
			q.Add("_pragma", "temp_store(MEMORY)")
			for _, p := range opts.writerPragmas {
				q.Add("_pragma", p)
			}
			// When the log starts over, its file is cut back to the bound.
			q.Add("_pragma", "journal_size_limit("+strconv.FormatInt(opts.MaxWALBytes, 10)+")")
		case reader:
			q.Add("_pragma", "query_only(1)")
		}
		if opts.ReadOnly && r != reader {
			q.Add("_pragma", "query_only(1)")
		}
		return path + "?" + q.Encode()
	}

	writeDB, err := sql.Open("sqlite", dsn(writer))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)
	writeDB.SetConnMaxLifetime(0)
	writeDB.SetConnMaxIdleTime(0)

	if opts.ReadOnly {
		err = checkSchema(ctx, writeDB, path)
	} else if err = migrate(ctx, writeDB); err != nil {
		err = fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	if err != nil {
		writeDB.Close()
		return nil, err
	}
	var pageSize int64
	if err := writeDB.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("sqlite: page size: %w", err)
	}
	if opts.MaxSizeBytes > 0 {
		pages := max(opts.MaxSizeBytes/pageSize, 1)
		if _, err := writeDB.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.FormatInt(pages, 10)); err != nil {
			writeDB.Close()
			return nil, fmt.Errorf("sqlite: max_page_count: %w", err)
		}
	}

	appendStmt, err := writeDB.PrepareContext(ctx, appendSQL)
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("sqlite: prepare append: %w", err)
	}

	stmts := map[string]*sql.Stmt{}
	for _, q := range writerStatements {
		stmt, err := writeDB.PrepareContext(ctx, q)
		if err != nil {
			writeDB.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
		stmts[q] = stmt
	}

	readDB, err := sql.Open("sqlite", dsn(reader))
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	readDB.SetMaxOpenConns(opts.ReadConns)
	readDB.SetMaxIdleConns(opts.ReadConns)

	var readStmts [3]*sql.Stmt
	for i, q := range []string{eventRangeSQL, nextDueSQL, claimedSubjectsSQL} {
		if readStmts[i], err = readDB.PrepareContext(ctx, q); err != nil {
			writeDB.Close()
			readDB.Close()
			return nil, fmt.Errorf("sqlite: prepare: %w", err)
		}
	}

	checkpointDB, err := sql.Open("sqlite", dsn(checkpointer))
	if err != nil {
		writeDB.Close()
		readDB.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	checkpointDB.SetMaxOpenConns(1)

	s := &Store{
		opts:                opts,
		pausedNow:           map[string]bool{},
		writeDB:             writeDB,
		readDB:              readDB,
		checkpointDB:        checkpointDB,
		appendStmt:          appendStmt,
		stmts:               stmts,
		eventRangeStmt:      readStmts[0],
		nextDueStmt:         readStmts[1],
		claimedSubjectsStmt: readStmts[2],
		counts:              newCounts(),
		wal:                 newWALLog(opts.MaxWALBytes, pageSize),
		queue:               make(chan *writeReq, opts.QueueSize),
		spare:               make(chan *writeReq, spareQueue),
		pace:                sparePace{busy: true, start: time.Now()},
		maxSpareWait:        maxSpareWait,
		pruneChunk:          pruneChunk{size: 64},
		done:                make(chan struct{}),
		nudge:               make(chan struct{}, 1),
		stopCheckpoints:     make(chan struct{}),
		checkpointsDone:     make(chan struct{}),
	}
	return s, nil
}

// checkpointLoop copies the WAL back into the database file every
// CheckpointInterval, and when the writer asks as the log fills up (see
// wal.go). PASSIVE neither waits for the writer nor holds it back.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointsDone)
	tick := time.NewTicker(s.opts.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-tick.C:
		case <-s.nudge:
		}
		if _, err := s.checkpointDB.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			s.opts.Logger.Warn("sqlite: checkpoint failed", "err", err)
		}
	}
}

// dataMigrations are steps SQL cannot take, run in the transaction of the
// migration file they are named after, after its script.
var dataMigrations = map[string]func(context.Context, *sql.Tx) error{
	"0004_body_hash.sql": backfillBodyHashes,
	"0013_kept_keys.sql": keepPrunedKeys,
}

// backfillBodyHashes gives the events stored before body hashes existed
// theirs, so that a replay of one of them under a new event id is met as a
// duplicate too. Where two old events share a body (a replay stored before
// this check existed), the first keeps the hash and the later ones none.
func backfillBodyHashes(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, body FROM events WHERE body_sha256 IS NULL ORDER BY seq`)
	if err != nil {
		return err
	}
	type filled struct {
		seq int64
		sum [32]byte
	}
	var all []filled
	for rows.Next() {
		var (
			seq  int64
			body []byte
		)
		if err := rows.Scan(&seq, &body); err != nil {
			rows.Close()
			return err
		}
		all = append(all, filled{seq, sha256.Sum256(body)})
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, f := range all {
		if _, err := tx.ExecContext(ctx, `UPDATE OR IGNORE events SET body_sha256 = ? WHERE seq = ?`, f.sum[:], f.seq); err != nil {
			return err
		}
	}
	return nil
}

// migrate applies the embedded migrations that the database has not seen,
// each in its own transaction, recording the version in user_version.
func migrate(ctx context.Context, db *sql.DB) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)

	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return err
	}
	if current > len(names) {
		return fmt.Errorf("database schema version %d is newer than this build knows (%d): upgrade hooklatch", current, len(names))
	}
	if current < len(names) {
		// A migration may build an index over every event: its sort
		// spills to temporary files, as it did before the writer kept
		// its temporary storage in memory (for its statement journals),
		// rather than hold a large store's keys in memory. The writer's
		// pool is one connection, so both statements reach it.
		if _, err := db.ExecContext(ctx, "PRAGMA temp_store = FILE"); err != nil {
			return err
		}
		defer db.ExecContext(ctx, "PRAGMA temp_store = MEMORY")
	}
	for i := current; i < len(names); i++ {
		script, err := migrations.ReadFile(names[i])
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(script)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", names[i], err)
		}
		if fill := dataMigrations[path.Base(names[i])]; fill != nil {
			if err := fill(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", names[i], err)
			}
		}
		if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(i+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// enqueue hands r to the writer, or fails at once when the queue is full
// or the store is closed.
func (s *Store) enqueue(r *writeReq) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	select {
	case s.queue <- r:
		return nil
	default:
		return store.ErrBusy
	}
}

// enqueueSpare hands r to the writer, to run in its spare time, or fails
// at once when the store is closed or spare writes given up on (their
// callers' contexts done) fill the queue.
func (s *Store) enqueueSpare(r *writeReq) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	r.spareSince = time.Now()
	select {
	case s.spare <- r:
		return nil
	default:
		return store.ErrBusy
	}
}

// write enqueues r and waits for its transaction to commit.
func (s *Store) write(ctx context.Context, r *writeReq) error {
	return s.wait(ctx, r, func() error { return s.enqueue(r) })
}

// wait hands r to the writer with enqueue and waits for its transaction
// to commit.
func (s *Store) wait(ctx context.Context, r *writeReq, enqueue func() error) error {
	r.done = make(chan struct{})
	if err := enqueue(); err != nil {
		return err
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		// The write may still commit; the caller did not get an answer, so
		// the sender will retry and meet a duplicate. Nothing is lost.
		return ctx.Err()
	}
}

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, ev *store.NewEvent) (store.AppendResult, error) {
	r := newAppend(ev)
	if err := s.write(ctx, r); err != nil {
		return store.AppendResult{}, err
	}
	return r.res, nil
}

// newAppend is the write that appends ev, with everything that can be
// done before the writer does: it is the one goroutine every append waits
// on.
func newAppend(ev *store.NewEvent) *writeReq {
	r := &writeReq{ev: ev, headers: headersJSON(ev.Headers), bodySum: ev.BodySum(),
		rank: event.LifecycleRank(ev.SubjectKind, ev.Status)}
	r.keyDigest, r.bodyDigest = keptDigests(ev.Source, ev.DedupeKey, r.bodySum[:])
	return r
}

func (s *Store) writeLoop() {
	defer close(s.done)
	batch := make([]*writeReq, 0, s.opts.MaxBatch)
	idle := time.NewTimer(s.opts.CheckpointInterval)
	idle.Stop()
	for {
		first, ok := s.next(idle)
		if !ok {
			s.failSpare()
			return
		}
		batch = append(batch[:0], first)
		first.started = time.Now()
	gather:
		for len(batch) < s.opts.MaxBatch && first.spareSince.IsZero() {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			default:
				break gather
			}
		}
		if !first.spareSince.IsZero() {
			s.commitSpare(first)
			continue
		}
		start := time.Now()
		s.commit(batch)
		s.afterBatch()
		s.pace.worked(time.Now(), time.Since(start))
	}
}

// commitSpare runs a spare write alone, and answers it once the log's
// account has counted the frames it wrote.
func (s *Store) commitSpare(r *writeReq) {
	r.err = s.runTx([]*writeReq{r})
	r.frames = s.afterBatch()
	s.pace.spent(time.Now(), time.Since(r.started))
	close(r.done)
}

// commit runs batch in one transaction and releases every request once
// COMMIT has returned. If the batch fails, each request is tried again in
// a transaction of its own, so one bad write cannot fail the others.
func (s *Store) commit(batch []*writeReq) {
	err := s.runTx(batch)
	if err != nil && len(batch) > 1 {
		s.opts.Logger.Warn("sqlite: batch failed, retrying its writes one by one", "writes", len(batch), "err", err)
		for _, r := range batch {
			// What the failed batch set is forgotten before the retry
			// sets it again.
			r.res = store.AppendResult{}
			r.err = s.runTx([]*writeReq{r})
			close(r.done)
		}
		return
	}
	for _, r := range batch {
		if err != nil {
			r.err = err
		}
		close(r.done)
	}
}

// runTx runs batch in one transaction; once it has committed, it hands
// the deliveries it took to the dispatcher, and if it fails it gives
// their places back.
func (s *Store) runTx(batch []*writeReq) error {
	s.txHook = s.onAppend.Load()
	err := s.runBatch(batch)
	if err != nil {
		s.untake()
	} else {
		s.handOff()
	}
	s.txHook = nil
	return err
}

func (s *Store) runBatch(batch []*writeReq) error {
	// The transaction is not bound to any one request's context: a request
	// whose client went away must not abort the others' commit.
	ctx := context.Background()
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	s.counts.reset()
	appendStmt := tx.StmtContext(ctx, s.appendStmt)
	var deliveries []newDelivery
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		switch {
		case r.ev != nil:
			// A run of appends inserts its events, then their subjects'
			// states and all their deliveries together.
			deliveries = deliveries[:0]
			s.runSubjects = s.runSubjects[:0]
			j := i
			for ; j < len(batch) && batch[j].ev != nil && err == nil; j++ {
				deliveries, err = s.appendOne(ctx, tx, appendStmt, batch[j], deliveries)
			}
			if err == nil {
				err = s.recordSubjects(ctx, tx)
			}
			clear(s.runSubjects) // keeps no event's body past its run
			if err == nil {
				err = s.insertDeliveries(ctx, tx, deliveries)
			}
			if err == nil {
				err = s.insertHanded(ctx, tx)
			}
			for _, r := range batch[i:j] {
				r.res.Handed = r.tookOne && !r.leftPending
			}
			i = j - 1
		case r.completion != nil:
			j := i + 1
			for j < len(batch) && batch[j].completion != nil {
				j++
			}
			err = s.recordCompletions(ctx, tx, batch[i:j])
			i = j - 1
		default:
			err = r.fn(ctx, tx)
		}
		if err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := s.flushCounts(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// appendOne inserts r's event with stmt (appendSQL, bound to the batch's
// transaction once: binding costs as much as running it), unless it is a
// duplicate, and adds its deliveries to those its run of appends inserts
// and, when it has a subject, the event to the run's (runSubjects).
func (s *Store) appendOne(ctx context.Context, tx *sql.Tx, stmt *sql.Stmt, r *writeReq, deliveries []newDelivery) ([]newDelivery, error) {
	ev := r.ev
	r.stale, r.tookOne, r.leftPending = false, false, false
	body := ev.Body
	if body == nil {
		body = []byte{}
	}
	// The common case, a new event, is a plain insert: no RETURNING to
	// materialise. A duplicate, by dedupe key or by body, inserts nothing
	// and is counted on the first event it matches.
	res, err := stmt.ExecContext(ctx,
		ev.ID, ev.Source, ev.DedupeKey, ev.Field, ev.Type, ev.SubjectKind, ev.Subject, ev.Status,
		unixNano(ev.OccurredAt), unixNano(ev.ReceivedAt), ev.Scheme, ev.Attention, r.headers, body, r.bodySum[:],
		r.keyDigest, r.bodyDigest, nullable(ev.TraceParent), r.rank)
	if err != nil {
		return deliveries, fmt.Errorf("sqlite: append: %w", err)
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return deliveries, fmt.Errorf("sqlite: append: %w", err)
	}
	if inserted == 1 {
		if r.res.Seq, err = res.LastInsertId(); err != nil {
			return deliveries, fmt.Errorf("sqlite: append: %w", err)
		}
		r.res.EventID = ev.ID
		s.counts.event(ev.Attention != "")
		if ev.Subject != "" {
			s.runSubjects = append(s.runSubjects, r)
		}
		return s.newDeliveries(deliveries, r, r.res.Seq), nil
	}
	r.res.Duplicate = true
	return deliveries, s.countDuplicate(ctx, tx, r)
}

// appendSQL inserts an event, unless it is a stored event's duplicate (the
// unique indexes) or a pruned one's (its digests, ?16 and ?17, are kept:
// retention.go). ?18 is the creation context, NULL while tracing is off;
// ?19 the event's lifecycle rank. Whether the event is stale is found
// when its run of appends records its subjects' states (recordSubjects):
// reading its subject's state here read the events table, which made
// SQLite copy every inserted row through a temporary table first.
var appendSQL = `
INSERT INTO events (id, source, dedupe_key, field, type, subject_kind, subject, status,
                    occurred_at, received_at, scheme, attention, headers, body, body_sha256, trace_parent, rank)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?18, ?19
 WHERE NOT EXISTS (SELECT 1 FROM kept_keys WHERE key_digest = ?16)
   AND NOT EXISTS (SELECT 1 FROM kept_keys WHERE body_digest = ?17)
ON CONFLICT DO NOTHING`

// subjectsSQL records rows new events, already inserted, in their
// order, each as subjectArgs arguments: source, subject, kind, status,
// rank, seq, event id, occurred_at, received_at. It counts each on its
// subject, and makes it the subject's latest state when its position
// (rank, occurred_at, seq) is after the stored one's
// (event.Position.After; an absent occurred_at is 0, earlier than any),
// the rows before it in the statement included. A row's key is its
// subject's first event (firstEventSQL): the new event itself when it is
// the first, so a new subject is added at the table's end. It returns the
// event_seq of each row it changed, as the row was made: an event whose
// seq is not among them was stale, its subject's state already later.
// The parameters are anonymous: the driver looks each numbered one up by
// name, in a list as long as the statement's, which made binding 32 rows
// cost more than running them.
func subjectsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`
INSERT INTO subjects (first_seq, source, subject, kind, status, rank, event_seq, event_id, occurred_at, received_at, events, updated_at)
SELECT (` + firstEventSQL("v.column1", "v.column2") + `),
       v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, v.column9, 1, v.column9
  FROM (VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?" + strings.Repeat(", ?", subjectArgs-1) + ")")
	}
	// WHERE true: an upsert's SELECT needs a clause before ON CONFLICT.
	b.WriteString(`) v WHERE true
ON CONFLICT (first_seq) DO UPDATE SET events = events + 1` + laterState(
		"(excluded.rank, excluded.occurred_at, excluded.event_seq) > (rank, occurred_at, event_seq)",
		"kind", "status", "rank", "event_seq", "event_id", "occurred_at", "received_at", "updated_at") + `
RETURNING event_seq`)
	return b.String()
}

// subjectArgs is how many arguments each row of subjectsSQL takes.
const subjectArgs = 9

var subjectsSQLs = newMultiRow(subjectsSQL)

// firstEventSQL is a query for the seq of the first stored event of
// subject subject of source source (SQL expressions), the key of the
// subject's row in subjects: the first entry of the events' (subject, seq)
// index whose event is of that source, usually the first one read. The
// index is named: ordered by seq, the (source, seq) one looks as good to
// the planner, and would read every event of the source before the
// subject's first.
func firstEventSQL(source, subject string) string {
	return "SELECT seq FROM events INDEXED BY events_subject_seq WHERE subject = " + subject + " AND source = " + source + " ORDER BY seq LIMIT 1"
}

// laterState sets each of columns to the new row's (excluded) when later
// holds: every right-hand side reads the row as it was.
func laterState(later string, columns ...string) string {
	var b strings.Builder
	for _, c := range columns {
		b.WriteString(",\n    " + c + " = CASE WHEN " + later + " THEN excluded." + c + " ELSE " + c + " END")
	}
	return b.String()
}

// nullable is s, or NULL when s is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// countDuplicateSQL counts a duplicate on the first event it matches, by
// dedupe key or by body, through the two unique indexes that refused it,
// unless a pruned event it matches came first (seq ?5).
const countDuplicateSQL = `
UPDATE events SET duplicates = duplicates + 1, last_duplicate_at = ?1
 WHERE seq = (SELECT MIN(seq) FROM events
               WHERE source = ?2 AND dedupe_key = ?3
                  OR source = ?2 AND body_sha256 = ?4) AND seq < ?5
RETURNING seq, id`

// exec runs fn in the writer's next transaction.
func (s *Store) exec(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.write(ctx, &writeReq{fn: fn})
}

// Ready implements store.Store: it makes a real write through the writer.
func (s *Store) Ready(ctx context.Context) error {
	return s.exec(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO meta (key, value) VALUES ('ready_probe', ?)
			 ON CONFLICT (key) DO UPDATE SET value = excluded.value`, time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("sqlite: ready probe: %w", err)
		}
		return nil
	})
}

// Close implements store.Store. It stops taking writes, lets the writer
// commit everything already queued, then closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()

	<-s.done
	close(s.stopCheckpoints)
	<-s.checkpointsDone
	if s.opts.Exclusive {
		// Leave a tidy file: everything in the database, an empty WAL. A
		// command that is not the owner leaves that to the owner, or to
		// SQLite when it closes the file's last connection.
		s.truncateWAL()
	}
	return s.release()
}

// releaseInFlight makes every delivery in flight pending again, recording
// its lost attempt. Only an owner may: it knows no other process is
// working on them.
func (s *Store) releaseInFlight(ctx context.Context) error {
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer tx.Rollback()
	s.counts.reset()
	n, err := s.releaseLeases(ctx, tx, time.Now(), math.MaxInt64)
	if err != nil {
		return err
	}
	if err := s.flushCounts(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: release deliveries in flight: %w", err)
	}
	if n > 0 {
		s.opts.Logger.Info("sqlite: deliveries left in flight by the previous run are due again", "deliveries", n)
	}
	return nil
}

// release closes whatever Open has opened, and drops the owner's lock.
func (s *Store) release() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.appendStmt, s.eventRangeStmt, s.nextDueStmt, s.claimedSubjectsStmt} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	for _, stmt := range s.stmts {
		errs = append(errs, stmt.Close())
	}
	s.claimSomeMu.Lock()
	for _, stmt := range s.claimSome {
		errs = append(errs, stmt.Close())
	}
	s.claimSomeMu.Unlock()
	for _, db := range []*sql.DB{s.readDB, s.checkpointDB, s.writeDB} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	// Last: the next owner may open the file once the lock is gone.
	errs = append(errs, s.lock.release())
	return errors.Join(errs...)
}

// Stats implements store.Store. It reads the counters the writer keeps
// (counts.go), never the events or deliveries themselves, so it costs the
// same whatever the store holds.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st, err := readCounts(ctx, s.readDB)
	if err != nil {
		return st, fmt.Errorf("sqlite: stats: %w", err)
	}
	if st.HeldSubjects, err = s.heldSubjects(ctx); err != nil {
		return st, fmt.Errorf("sqlite: stats: %w", err)
	}
	return st, nil
}

// heldSubjectsSQL counts a destination's held subjects (store.Stats) through
// the index of those alone, up to store.MaxHeldCount.
const heldSubjectsSQL = `SELECT COUNT(*) FROM (SELECT 1 FROM deliveries INDEXED BY deliveries_subject_retrying
 WHERE destination = ? AND order_key <> '' AND held = 0 AND status = 'pending' AND attempts > 0 LIMIT ?)`

// heldSubjects counts the held subjects of each destination that orders by
// subject; nil when none does.
func (s *Store) heldSubjects(ctx context.Context) (map[string]int64, error) {
	routes, _, err := s.Routes(ctx)
	if err != nil {
		return nil, err
	}
	var held map[string]int64
	for _, r := range routes {
		if r.Order != store.OrderSubject {
			continue
		}
		var n int64
		if err := s.readDB.QueryRowContext(ctx, heldSubjectsSQL, r.Name, store.MaxHeldCount).Scan(&n); err != nil {
			return nil, err
		}
		if held == nil {
			held = map[string]int64{}
		}
		held[r.Name] = n
	}
	return held, nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
