package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

// Claims made by appends (store.AppendClaimer), as on SQLite.
//
// While this instance's dispatcher has a free place, an append inserts
// its event's deliveries already in flight, leased to that dispatcher,
// in the statement that inserts the event: they skip the claim's
// statement, its read of their events and a NOTIFY to every instance. The
// places are taken (Take) before the statement, for each delivery of the
// batch; a delivery whose event proves a duplicate, or whose batch fails,
// gives its place back (Untake), and the others are handed over (Claimed)
// once the statement has committed. A batch whose insert committed but
// whose answer was lost (the connection was cut) leaves its deliveries in
// flight under this instance's lease: they are claimed again once it
// expires, as an attempt lost with its process is.

// ClaimOnAppend implements store.AppendClaimer.
func (s *Store) ClaimOnAppend(h *store.AppendClaims) { s.onAppend.Store(h) }

var _ store.AppendClaimer = (*Store)(nil)

// handing is a batch's deliveries taken for the dispatcher, in the order
// writeBatch passes them to appendSQL ($16, $17: each request's
// destinations in turn): handed[i] says whether the i-th was taken, and
// ids[i] is its id once inserted in flight.
type handing struct {
	hook   *store.AppendClaims
	reqs   []*appendReq // the i-th delivery's request
	dests  []string     // and destination
	handed []bool
	ids    []int64
	index  map[[2]string]int // (event id, destination) as stored: i
	until  time.Time
	// latest is the batch's latest event of each subject (subjectBatch),
	// once written.
	latest map[store.SubjectKey]*appendReq
}

// take asks the dispatcher for a place for each delivery of rows, except
// those to a destination that orders by subject. nil when no dispatcher
// takes them.
func (s *Store) take(rows []*appendReq, ordered map[string]bool) *handing {
	h := s.onAppend.Load()
	if h == nil {
		return nil
	}
	hs := &handing{hook: h, index: map[[2]string]int{}}
	for _, r := range rows {
		for _, d := range r.ev.DistinctDestinations() { // as appendSQL gets them
			hs.index[[2]string{text(r.ev.ID), text(d)}] = len(hs.reqs)
			hs.reqs, hs.dests = append(hs.reqs, r), append(hs.dests, d)
			hs.handed = append(hs.handed, !ordered[d] && h.Take(d))
		}
	}
	if len(hs.reqs) == 0 {
		return nil
	}
	hs.ids = make([]int64, len(hs.reqs))
	hs.until = h.Now().Add(h.Lease).Truncate(time.Microsecond) // what timestamptz keeps
	return hs
}

// args are appendSQL's $20 to $22: which deliveries are inserted in
// flight, and their lease.
func (hs *handing) args() []any {
	if hs == nil {
		return []any{nil, "", pgtype.Timestamptz{}}
	}
	return []any{hs.handed, hs.hook.Owner, hs.until}
}

// inserted notes the id of the delivery to destination of event id,
// inserted in flight.
func (hs *handing) inserted(eventID, destination string, id int64) {
	if hs == nil {
		return
	}
	if i, ok := hs.index[[2]string{eventID, destination}]; ok && hs.handed[i] {
		hs.ids[i] = id
	}
}

// settle hands over the claims of the deliveries inserted in flight, once
// their statement committed, and gives back every other place. It sets
// AppendResult.Handed on the requests all of whose deliveries were.
func (s *Store) settle(hs *handing, committed bool) {
	if hs == nil {
		return
	}
	var claims []store.Claim
	evs := map[*appendReq]*store.Event{}
	pending := map[*appendReq]bool{} // left a delivery to be claimed
	subjects := false
	for i, took := range hs.handed {
		r := hs.reqs[i]
		// An id was returned only for a delivery inserted in flight, with
		// its event: never for a duplicate's.
		if !took || !committed || hs.ids[i] == 0 {
			pending[r] = true
			if took {
				hs.hook.Untake(hs.dests[i])
			}
			continue
		}
		ev := evs[r]
		if ev == nil {
			ev = handedEvent(r)
			evs[r] = ev
		}
		subjects = subjects || ev.Subject != ""
		at := ev.ReceivedAt
		claims = append(claims, store.Claim{
			Delivery: store.Delivery{ID: hs.ids[i], EventSeq: r.res.Seq, EventID: r.ev.ID, Destination: hs.dests[i],
				Status: store.DeliveryInFlight, NextAttemptAt: at, LeaseOwner: hs.hook.Owner, LeaseUntil: hs.until, CreatedAt: at, UpdatedAt: at},
			Event: ev, Attempt: 1,
		})
	}
	for r := range evs {
		r.res.Handed = !pending[r]
	}
	if len(claims) == 0 {
		return
	}
	if !subjects || hs.subjectStates(claims) {
		hs.hook.Claimed(claims)
		return
	}
	// Some subject's latest state is not the batch's: read, off the
	// writer, as a claim reads it with its rows.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.fillStaleness(ctx, claims); err != nil {
			s.opts.Logger.Warn("postgres: deliveries handed on without their subjects' states", "deliveries", len(claims), "err", err)
		}
		hs.hook.Claimed(claims)
	}()
}

// subjectStates sets the subject state of each claim whose subject's
// latest state is the batch's own, and reports whether that was all of
// them. A subject's latest event in the batch that was not stale on
// arrival is the subject's latest state once the batch has committed (the
// statement compared it with the stored one); one that was stale leaves
// the stored state the latest, which only a read can tell.
func (hs *handing) subjectStates(claims []store.Claim) bool {
	latest := map[store.SubjectKey]store.Latest{}
	for _, c := range claims {
		ev := c.Event
		if ev.Subject == "" {
			continue
		}
		l := hs.latest[store.SubjectKey{Source: text(ev.Source), Subject: text(ev.Subject)}]
		if l == nil || l.stale {
			return false
		}
		latest[store.SubjectKey{Source: ev.Source, Subject: ev.Subject}] = store.Latest{Status: l.ev.Status,
			Position: event.Position{Rank: l.rank, OccurredAt: l.ev.OccurredAt.Truncate(time.Microsecond), Received: l.res.Seq}}
	}
	store.FillStaleness(claims, latest)
	return true
}

// handedEvent is r's event as a claim reads it back: its times cut to
// what timestamptz keeps.
func handedEvent(r *appendReq) *store.Event {
	ev := store.HandedEvent(r.ev.EventData, r.res.Seq, r.rank, r.stale)
	ev.ReceivedAt = ev.ReceivedAt.Truncate(time.Microsecond)
	if !ev.OccurredAt.IsZero() {
		ev.OccurredAt = ev.OccurredAt.Truncate(time.Microsecond)
	}
	return ev
}

// claimedSubjectsSQL reads the latest state of each subject ($1, $2: the
// sources and subjects), as a claim joins it.
const claimedSubjectsSQL = `
SELECT s.source, s.subject, s.status, s.rank, s.occurred_at, s.event_seq
  FROM unnest($1::text[], $2::text[]) AS k (source, subject)
  JOIN subjects s ON s.source = k.source AND s.subject = k.subject`

// fillStaleness sets the subject state of claims, as Claim does.
func (s *Store) fillStaleness(ctx context.Context, claims []store.Claim) error {
	keys := store.ClaimSubjects(claims)
	if len(keys) == 0 {
		return nil
	}
	sources, subjects := make([]string, len(keys)), make([]string, len(keys))
	raw := make(map[store.SubjectKey]store.SubjectKey, len(keys)) // as stored: as the events have them
	for i, k := range keys {
		sources[i], subjects[i] = text(k.Source), text(k.Subject)
		raw[store.SubjectKey{Source: sources[i], Subject: subjects[i]}] = k
	}
	rows, err := s.pool.Query(ctx, claimedSubjectsSQL, sources, subjects)
	if err != nil {
		return err
	}
	defer rows.Close()
	latest := map[store.SubjectKey]store.Latest{}
	for rows.Next() {
		var (
			k        store.SubjectKey
			l        store.Latest
			rank     int32
			occurred pgtype.Timestamptz
		)
		if err := rows.Scan(&k.Source, &k.Subject, &l.Status, &rank, &occurred, &l.Position.Received); err != nil {
			return err
		}
		l.Position.Rank, l.Position.OccurredAt = int(rank), fromTS(occurred)
		latest[raw[k]] = l
	}
	if err := rows.Err(); err != nil {
		return err
	}
	store.FillStaleness(claims, latest)
	return nil
}
