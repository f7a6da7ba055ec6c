package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
)

// completeReq is one completion waiting for the completion writer.
type completeReq struct {
	c     store.Completion
	owned bool
	found bool
	err   error
	done  chan struct{}
}

// Complete implements store.Store. Completions made at the same moment
// (a dispatcher's many workers) are written together, in one statement
// and one commit, as appends are.
func (s *Store) Complete(ctx context.Context, c store.Completion) error {
	switch c.Status {
	case store.DeliveryPending, store.DeliverySucceeded, store.DeliveryDead:
	default:
		return fmt.Errorf("postgres: complete: status %q", c.Status)
	}
	r := &completeReq{c: c, done: make(chan struct{})}
	if err := s.enqueueCompletion(r); err != nil {
		return err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	switch {
	case r.err != nil:
		return r.err
	case !r.found:
		return fmt.Errorf("postgres: complete delivery %d: %w", c.DeliveryID, store.ErrNotFound)
	case !r.owned:
		return store.ErrLeaseLost
	}
	return nil
}

func (s *Store) enqueueCompletion(r *completeReq) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	select {
	case s.completions <- r:
		return nil
	default:
		return store.ErrBusy
	}
}

// completeLoop writes the completions waiting at the moment in one
// statement, until Close. A delivery completed twice at once (a lease's
// old owner and its new one) waits for the next statement, so that its
// attempts are numbered one after the other.
func (s *Store) completeLoop() {
	var (
		batch []*completeReq
		later []*completeReq
	)
	for {
		batch = batch[:0]
		if len(later) == 0 {
			r, ok := <-s.completions
			if !ok {
				return
			}
			later = append(later, r)
		}
		ids := map[int64]bool{}
		next := later[:0:0]
		for _, r := range later {
			if ids[r.c.DeliveryID] {
				next = append(next, r)
				continue
			}
			ids[r.c.DeliveryID] = true
			batch = append(batch, r)
		}
		later = next
	gather:
		for len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.completions:
				if !ok {
					break gather
				}
				if ids[r.c.DeliveryID] {
					later = append(later, r)
					continue
				}
				ids[r.c.DeliveryID] = true
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.completeBatch(batch)
	}
}

// completeBatch writes batch, or each of its completions alone when the
// server refuses the whole.
func (s *Store) completeBatch(batch []*completeReq) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.WriteTimeout)
	defer cancel()
	err := s.writeCompletions(ctx, batch)
	if err != nil && len(batch) > 1 && isServerError(err) {
		for _, r := range batch {
			r.err = s.writeCompletions(ctx, []*completeReq{r})
			close(r.done)
		}
		return
	}
	for _, r := range batch {
		r.err = err
		close(r.done)
	}
}

// completeSQL records each attempt, numbered after its delivery's last
// one, and moves the delivery on when the completion's owner still holds
// its lease. The rows are locked first, in id order (so that instances
// completing at once wait for each other without a cycle), so that a late
// completion by a lease's old owner and the new owner's are numbered one
// after the other.
const completeSQL = `
WITH input AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::timestamptz[],
                         $8::timestamptz[], $9::bigint[], $10::text[], $11::int[], $12::text[], $13::text[])
           WITH ORDINALITY AS t (id, owner, status, spend, next_attempt_at, last_error, now,
                                 started_at, duration_ns, outcome, status_code, error, response, ord)
), cur AS (
    SELECT d.id, d.status = 'in_flight' AND d.lease_owner = input.owner AS owned
      FROM deliveries d JOIN input ON input.id = d.id
     ORDER BY d.id
       FOR UPDATE OF d
), upd AS (
    UPDATE deliveries d SET
        recorded        = d.recorded + 1,
        status          = CASE WHEN cur.owned THEN input.status ELSE d.status END,
        attempts        = CASE WHEN cur.owned THEN d.attempts + input.spend ELSE d.attempts END,
        next_attempt_at = CASE WHEN cur.owned THEN input.next_attempt_at ELSE d.next_attempt_at END,
        lease_owner     = CASE WHEN cur.owned THEN '' ELSE d.lease_owner END,
        lease_until     = CASE WHEN cur.owned THEN NULL ELSE d.lease_until END,
        last_error      = CASE WHEN cur.owned THEN input.last_error ELSE d.last_error END,
        updated_at      = CASE WHEN cur.owned THEN input.now ELSE d.updated_at END
      FROM cur JOIN input ON input.id = cur.id
     WHERE d.id = cur.id
    RETURNING d.id, d.recorded, cur.owned
), att AS (
    INSERT INTO attempts (delivery_id, attempt, started_at, duration_ns, outcome, status_code, error, response)
    SELECT upd.id, upd.recorded, input.started_at, input.duration_ns, input.outcome, input.status_code, input.error, input.response
      FROM upd JOIN input ON input.id = upd.id
     ORDER BY input.ord
)
SELECT id, owned FROM upd`

// writeCompletions runs completeSQL for batch and sets each request's
// outcome.
func (s *Store) writeCompletions(ctx context.Context, batch []*completeReq) error {
	n := len(batch)
	var (
		ids                                    = make([]int64, n)
		owners, statuses, lastErrors, outcomes = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		errs, responses                        = make([]string, n), make([]string, n)
		spend, codes                           = make([]int32, n), make([]int32, n)
		next, now, started                     = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		durations                              = make([]int64, n)
		byID                                   = make(map[int64]*completeReq, n)
	)
	for i, r := range batch {
		c, a := r.c, r.c.Attempt
		ids[i], owners[i], statuses[i] = c.DeliveryID, c.Owner, string(c.Status)
		if c.SpendAttempt {
			spend[i] = 1
		}
		next[i], now[i] = c.NextAttemptAt, c.Now
		if next[i].IsZero() {
			next[i] = c.Now
		}
		lastErrors[i], errs[i] = text(a.Error), text(a.Error)
		started[i], durations[i], outcomes[i], codes[i], responses[i] = a.StartedAt, int64(a.Duration), string(a.Outcome), int32(a.StatusCode), text(a.Response)
		r.found, r.owned = false, false
		byID[c.DeliveryID] = r
	}
	rows, err := s.pool.Query(ctx, completeSQL, ids, owners, statuses, spend, next, lastErrors, now,
		started, durations, outcomes, codes, errs, responses)
	if err != nil {
		return fmt.Errorf("postgres: complete: %w", err)
	}
	var (
		id    int64
		owned bool
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &owned}, func() error {
		if r := byID[id]; r != nil {
			r.found, r.owned = true, owned
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: complete: %w", err)
	}
	return nil
}
