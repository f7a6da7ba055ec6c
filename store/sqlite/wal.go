package sqlite

// How the write-ahead log stays bounded.
//
// SQLite appends every commit to the WAL, and a checkpoint copies frames
// back into the database file. The log starts over from its first frame
// only when a writer begins after a checkpoint that copied every frame,
// with no reader left on an older snapshot. A PASSIVE checkpoint, which
// never waits, copies what was committed when it began; under continuous
// writes more has been committed by the time it ends, so the log never
// starts over and its file grows with every commit, for ever.
//
// So the writer goroutine, which knows how much it has written (SQLite
// counts the pages its connection writes to the log), rewinds the log
// itself. Past Options.MaxWALBytes, between two batches, it runs a RESTART
// checkpoint: that copies the frames left, waits for readers on older
// snapshots to finish (they are short), and makes the next batch write from
// the log's start. Nothing of ours writes meanwhile, so the checkpoint
// cannot be starved; appends wait in the queue. To keep that wait short,
// the writer asks the checkpointer for a PASSIVE checkpoint each time the
// log grows by a thirty-second of the bound: those copy nearly all of it in
// the background, and leave the RESTART only the last few frames. (With an
// eighth, the RESTART took 14 ms at the median in bench at saturation;
// with a thirty-second, 5 ms.)
//
// journal_size_limit cuts the file back to the bound when the log starts
// over after it could not for a while (a reader held it, another process
// wrote a burst), and once writes stop for CheckpointInterval the writer
// empties the file (TRUNCATE).
//
// A read transaction holds the log back for as long as it lasts: a
// checkpoint copies no frame past the oldest snapshot still read, and the
// log cannot start over beneath it, so the RESTART gives up after
// checkpointBusyTimeout and the log grows by every commit until the
// reader ends (TestWALStartsOverOnceAReaderLetsGo). The bound therefore
// holds only while every read is short: a read whose cost grows with the
// store (a count of every event) lets the log grow by what is written
// meanwhile. At 2.1 M events a 3.7 s Stats took the log to 113 MB.
// Retention's own reads and writes are bounded (pruneScanFactor; each
// transaction appends at most MaxWALBytes/pruneWALShare).

import (
	"context"
	"errors"
	"fmt"
	"time"

	msqlite "modernc.org/sqlite"

	"github.com/hooklatch/hooklatch/store"
)

const (
	// checkpointBusyTimeout bounds how long a checkpoint waits for a
	// reader or another process. A rewind that gives up is tried again
	// CheckpointInterval later, so a reader that never ends costs the
	// writes this long once a CheckpointInterval at most.
	checkpointBusyTimeout = 100 * time.Millisecond

	// walSteps is how many background checkpoints the writer asks for
	// while the log fills up to its bound.
	walSteps = 32

	// maxSpareWait bounds how long a spare write (retention's) waits for
	// the writer to have nothing else to do: under a load that never
	// leaves it idle, retention still gets one transaction this often.
	maxSpareWait = time.Second

	// spareQueue bounds the spare writes waiting. Retention has one at a
	// time; more wait only when their callers gave up on them.
	spareQueue = 4
)

// walLog is the writer's account of the log.
type walLog struct {
	pageSize int64
	limit    int64     // frames the log may hold: MaxWALBytes / page size
	frames   int64     // frames the writer appended since the log started over
	nudgeAt  int64     // frames at which the checkpointer is asked next
	dirty    bool      // written to since the file was last emptied
	stuck    bool      // the last rewind could not finish
	retryAt  time.Time // when it may be tried again
	blind    bool      // the writes cannot be counted (said once)
}

func newWALLog(maxBytes, pageSize int64) walLog {
	w := walLog{pageSize: pageSize, limit: max(maxBytes/pageSize, walSteps)}
	w.reset()
	return w
}

func (w *walLog) step() int64 { return w.limit / walSteps }

// reset records that the log starts over.
func (w *walLog) reset() {
	w.frames, w.nudgeAt = 0, w.step()
}

// next waits for the next write: a spare one (Store.spare) when its pace
// allows (sparePace) and no other write waits or it has waited
// maxSpareWait. Once none has come for CheckpointInterval, it empties the
// log first, so that an idle store keeps no large WAL.
func (s *Store) next(idle *time.Timer) (*writeReq, bool) {
	if s.held == nil {
		select {
		case s.held = <-s.spare:
		default:
		}
	}
	ready := s.held != nil && !time.Now().Before(s.pace.notBefore)
	if ready && time.Since(s.held.spareSince) >= s.maxSpareWait {
		return s.takeHeld(), true
	}
	select {
	case r, ok := <-s.queue:
		return r, ok
	default:
	}
	if ready {
		return s.takeHeld(), true
	}
	for {
		var timeout, paced <-chan time.Time
		if s.wal.dirty {
			idle.Reset(s.opts.CheckpointInterval)
			timeout = idle.C
		}
		spare, pace := s.spare, (*time.Timer)(nil)
		if s.held != nil {
			spare = nil // one at a time
			pace = time.NewTimer(time.Until(s.pace.notBefore))
			paced = pace.C
		}
		r, ok, got := s.await(spare, paced, timeout)
		if pace != nil {
			pace.Stop()
		}
		if got {
			idle.Stop()
			return r, ok
		}
	}
}

// await waits for a write, a spare write whose pace allows it, the end of
// the pace of the one held, or the idle timeout (which empties the log);
// got says whether it has a write to run.
func (s *Store) await(spare chan *writeReq, paced, timeout <-chan time.Time) (r *writeReq, ok, got bool) {
	select {
	case r, ok := <-s.queue:
		return r, ok, true
	case s.held = <-spare:
		if !time.Now().Before(s.pace.notBefore) {
			return s.takeHeld(), true, true
		}
	case <-paced:
		return s.takeHeld(), true, true
	case <-timeout:
		s.truncateWAL()
	}
	return nil, false, false
}

// sparePace keeps the spare writes (retention's) to a share of the
// writer's time: after one that took d, the next waits d·(1-share)/share,
// share being busySpareShare while the other writes took more than
// busyShare of the last paceWindow (and until a first window has passed),
// idleSpareShare otherwise. A closed loop of clients at saturation leaves
// the queue empty between two batches for as long as their answers take
// to turn into new requests: that gap is not spare time, and the share
// bounds what retention takes of it. When the machine's CPU rather than
// the writer is what saturates (serve on two cores), the writer is busy
// for well under half the time; hence a low busyShare. The writer
// goroutine's own.
type sparePace struct {
	notBefore time.Time     // no spare write starts before
	start     time.Time     // the current window's start
	work      time.Duration // the other writes' time in the window
	busy      bool          // they took more than busyShare of the last window
}

const (
	paceWindow     = time.Second
	busyShare      = 0.25
	busySpareShare = 0.1
	idleSpareShare = 0.5
)

// worked records another write of d, ending at now.
func (p *sparePace) worked(now time.Time, d time.Duration) {
	p.work += d
	p.roll(now)
}

// spent records a spare write of d, ending at now.
func (p *sparePace) spent(now time.Time, d time.Duration) {
	p.roll(now)
	share := idleSpareShare
	if p.busy {
		share = busySpareShare
	}
	p.notBefore = now.Add(time.Duration(float64(d) * (1 - share) / share))
}

// roll starts a new window once paceWindow has passed.
func (p *sparePace) roll(now time.Time) {
	if elapsed := now.Sub(p.start); elapsed >= paceWindow {
		p.busy = float64(p.work) > busyShare*float64(elapsed)
		p.start, p.work = now, 0
	}
}

func (s *Store) takeHeld() *writeReq {
	r := s.held
	s.held = nil
	return r
}

// failSpare answers the spare writes left once the writer stops.
func (s *Store) failSpare() {
	for {
		r := s.held
		if r == nil {
			select {
			case r = <-s.spare:
			default:
				return
			}
		}
		s.held = nil
		r.err = store.ErrClosed
		close(r.done)
	}
}

// afterBatch counts the frames a batch appended to the log, keeps the
// log within its bound, and returns the count (0 when it cannot count).
func (s *Store) afterBatch() int64 {
	w := &s.wal
	n, err := s.framesWritten()
	if err != nil {
		if !w.blind {
			s.opts.Logger.Error("sqlite: cannot count the writes to the write-ahead log; it is emptied only when writes stop", "err", err)
			w.blind = true
		}
		w.dirty = true
		return 0
	}
	w.frames += n
	s.framesTotal.Add(n)
	w.dirty = w.dirty || n > 0
	switch {
	case w.frames >= w.limit && !time.Now().Before(w.retryAt):
		s.rewindWAL()
	case w.frames >= w.nudgeAt:
		w.nudgeAt = w.frames + w.step()
		select {
		case s.nudge <- struct{}{}:
		default: // one is on its way
		}
	}
	return n
}

// framesWritten returns the frames the writer's connection appended to the
// log since it was last asked.
func (s *Store) framesWritten() (int64, error) {
	conn, err := s.writeDB.Conn(context.Background())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int
	err = conn.Raw(func(dc any) error {
		st, ok := dc.(msqlite.DBStatus)
		if !ok {
			return errors.New("the driver does not report its connection's writes")
		}
		n, _, err = st.Status(msqlite.DBStatusCacheWrite, true)
		return err
	})
	return int64(n), err
}

// rewindWAL makes the next batch write from the log's start.
func (s *Store) rewindWAL() {
	w := &s.wal
	busy, err := s.checkpoint("RESTART")
	if err != nil || busy {
		// Try again a little later; the log grows meanwhile.
		w.retryAt = time.Now().Add(s.opts.CheckpointInterval)
		if !w.stuck {
			if err == nil {
				err = errors.New("a reader or another process held the log")
			}
			s.opts.Logger.Warn("sqlite: the write-ahead log cannot start over yet; it grows until it can",
				"wal_bytes", w.frames*w.pageSize, "err", err)
			w.stuck = true
		}
		return
	}
	s.startedOver()
}

// startedOver records that the log starts over, and says so if it could
// not before.
func (s *Store) startedOver() {
	w := &s.wal
	if w.stuck {
		s.opts.Logger.Info("sqlite: the write-ahead log starts over again")
		w.stuck, w.retryAt = false, time.Time{}
	}
	w.reset()
}

// truncateWAL copies the whole log into the database file and empties the
// log's file.
func (s *Store) truncateWAL() {
	busy, err := s.checkpoint("TRUNCATE")
	if err != nil {
		s.opts.Logger.Warn("sqlite: checkpoint failed", "err", err)
	}
	if err == nil && !busy {
		s.startedOver()
		s.wal.dirty = false
	}
}

// checkpoint runs a checkpoint on the checkpointer's connection; busy
// reports that it could not do all its mode asks for.
func (s *Store) checkpoint(mode string) (busy bool, err error) {
	var b, frames, copied int
	err = s.checkpointDB.QueryRow("PRAGMA wal_checkpoint("+mode+")").Scan(&b, &frames, &copied)
	if err != nil {
		return false, fmt.Errorf("sqlite: checkpoint (%s): %w", mode, err)
	}
	return b != 0, nil
}
