package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// Claims made by appends (store.AppendClaimer).
//
// While the dispatcher has a free place, an append inserts its event's
// deliveries already in flight, leased to it, instead of pending: they
// skip the pending indexes (deliveries_pending, _pending_destination,
// _listed), their claim's transaction, and the reads of their events once
// claimed. The writer asks the dispatcher for a place per delivery (Take),
// gives the places back if the transaction rolls back (Untake), and hands
// the claims over once it has committed (Claimed). A delivery to a
// destination that orders by subject is never taken: its order is the
// claim's to keep; nor is one to a destination paused.

// ClaimOnAppend implements store.AppendClaimer.
func (s *Store) ClaimOnAppend(h *store.AppendClaims) { s.onAppend.Store(h) }

var _ store.AppendClaimer = (*Store)(nil)

// handed is a delivery an append took for the dispatcher (runTx's).
type handed struct {
	req   *writeReq
	d     newDelivery
	id    int64 // once inserted
	until int64 // the lease's end, once inserted
}

// take says whether the open transaction's hook takes d, for r's event.
// Writer goroutine only.
func (s *Store) take(r *writeReq, d newDelivery) bool {
	h := s.txHook
	if h == nil || d.orderKey != "" || s.pausedNow[d.destination] || !h.Take(d.destination) {
		return false
	}
	s.handing = append(s.handing, handed{req: r, d: d})
	r.tookOne = true
	return true
}

// insertHanded inserts the deliveries the open transaction took, in
// flight and leased to the hook's owner, and learns their ids.
func (s *Store) insertHanded(ctx context.Context, tx *sql.Tx) error {
	hs := s.handing[s.inserted:]
	if len(hs) == 0 {
		return nil
	}
	now := s.txHook.Now()
	until := unixNano(now.Add(s.txHook.Lease))
	err := inChunks(len(hs), func(from, size int) error {
		chunk := hs[from : from+size]
		args := make([]any, 0, 2+size*deliveryArgs)
		args = append(args, s.txHook.Owner, until)
		for _, h := range chunk {
			args = append(args, h.d.seq, h.d.eventID, h.d.destination, h.d.at)
		}
		rows, err := s.queryWriter(ctx, tx, insertHandedSQLs[size], args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id, seq int64
				dest    string
			)
			if err := rows.Scan(&id, &seq, &dest); err != nil {
				return err
			}
			i := slices.IndexFunc(chunk, func(h handed) bool { return h.d.seq == seq && h.d.destination == dest })
			if i < 0 {
				return fmt.Errorf("inserted a delivery to %s of event %d it did not take", dest, seq)
			}
			chunk[i].id, chunk[i].until = id, until
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range chunk {
			if h.id == 0 {
				return fmt.Errorf("no id for the delivery to %s of event %d", h.d.destination, h.d.seq)
			}
			s.counts.add(h.d.destination, store.DeliveryInFlight, 1)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: insert deliveries in flight: %w", err)
	}
	s.inserted = len(s.handing)
	return nil
}

// insertHandedSQL inserts rows deliveries in flight, leased to ?1 until
// ?2, each as deliveryArgs arguments, as insertDeliveriesSQL does.
func insertHandedSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, lease_owner, lease_until, created_at, updated_at) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		n := 2 + i*deliveryArgs
		fmt.Fprintf(&b, "(?%d, ?%d, ?%d, 'in_flight', ?%d, ?1, ?2, ?%d, ?%d)", n+1, n+2, n+3, n+4, n+4, n+4)
	}
	b.WriteString(" RETURNING id, event_seq, destination")
	return b.String()
}

var insertHandedSQLs = newMultiRow(insertHandedSQL)

// untake gives back the places of the open transaction, which rolled
// back.
func (s *Store) untake() {
	for _, h := range s.handing {
		s.txHook.Untake(h.d.destination)
	}
	s.handing, s.inserted = s.handing[:0], 0
}

// handOff hands the committed transaction's claims to its hook: each
// event read from its append, its subjects' states after the commit.
func (s *Store) handOff() {
	if len(s.handing) == 0 {
		return
	}
	h := s.txHook
	claims := make([]store.Claim, len(s.handing))
	events := make(map[*writeReq]*store.Event, len(s.handing))
	subjects := false
	for i, hd := range s.handing {
		ev := events[hd.req]
		if ev == nil {
			ev = store.HandedEvent(hd.req.ev.EventData, hd.req.res.Seq, hd.req.rank, hd.req.stale)
			events[hd.req] = ev
		}
		subjects = subjects || ev.Subject != ""
		at := fromUnixNano(hd.d.at)
		claims[i] = store.Claim{
			Delivery: store.Delivery{ID: hd.id, EventSeq: hd.d.seq, EventID: hd.d.eventID, Destination: hd.d.destination,
				Status: store.DeliveryInFlight, NextAttemptAt: at, LeaseOwner: h.Owner, LeaseUntil: fromUnixNano(hd.until), CreatedAt: at, UpdatedAt: at},
			Event: ev, Attempt: 1,
		}
	}
	s.handing, s.inserted = s.handing[:0], 0
	if !subjects {
		h.Claimed(claims)
		return
	}
	// The subjects' states are read off the writer, as a claim's are.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.fillStaleness(ctx, claims); err != nil {
			s.opts.Logger.Warn("sqlite: deliveries handed on without their subjects' states", "deliveries", len(claims), "err", err)
		}
		h.Claimed(claims)
	}()
}
