package event

import "time"

// The lifecycle order decides a subject's latest state when its events
// arrive out of order: webhooks "may be delivered more than once, or
// occasionally out of order, due to retries or network issues", so a
// message's DELIVERED can be received before its SENT. This file is the
// one place that order is written; the stores keep each subject's latest
// state by it, and a delivery is stale when its subject already has a
// later one.
//
// A message (subject kind message_id) moves along Sent's lifecycle:
//
//	SCHEDULED < QUEUED < PROCESSED < ROUTED < SENT < DELIVERED < READ
//	    1         2         3          4       5        6        7
//
// READ and the failures FAILED, FILTERED and BLOCKED end a message, and
// all rank 7: nothing follows them on the happy path, and Sent says a
// message can go SENT → DELIVERED → FAILED, so a failure outranks every
// status before it, DELIVERED included. Two endings of one message (READ
// and a late FAILED, say) tie, and the later occurred_at wins: "count the
// latest status, not the journey". RECEIVED, an inbound message's only
// status, ranks 7 too. A status this build does not know ranks 0: it never
// hides a known one.
//
// A template's review can run again (an edit sends an APPROVED template
// back to PENDING), and contacts, calls and phone numbers have no fixed
// path either: every status of those subjects ranks 1 and time alone
// orders them.
//
// Ties go to the later occurred_at (the envelope's timestamp, when the
// status was reached), then to the later receipt: a re-fired status with
// the same timestamp changes nothing that matters.

// Ranks of the lifecycle order (LifecycleRank).
const (
	RankUnknown = 0 // a status this build does not know, or none
	RankEnd     = 7 // READ, FAILED, FILTERED, BLOCKED, RECEIVED
)

// LifecycleRank places status in the lifecycle of a subject of kind
// subjectKind (SubjectMessage, SubjectTemplate, …): higher is later. See
// the order above. Case does not matter.
func LifecycleRank(subjectKind, status string) int {
	s := normStatus(status)
	if s == "" {
		return RankUnknown
	}
	switch subjectKind {
	case SubjectMessage:
		if r := StatusRank(s); r > 0 {
			return r
		}
		if isFailure(s) || s == StatusReceived {
			return RankEnd
		}
		return RankUnknown
	case "":
		return RankUnknown
	}
	return 1
}

// Position is where one event of a subject stands in the subject's
// lifecycle.
type Position struct {
	Rank       int       // LifecycleRank of the event's status
	OccurredAt time.Time // the envelope's timestamp; zero when absent
	// Received orders receipt: any number that grows with it, such as a
	// store's sequence number.
	Received int64
}

// After reports whether p is a later state than q: a higher rank, else a
// later OccurredAt, else a later receipt. An absent OccurredAt is earlier
// than any present one. For two distinct events exactly one of p.After(q)
// and q.After(p) holds, whatever order they arrive in, so every reader of
// the same events agrees on the latest.
func (p Position) After(q Position) bool {
	if p.Rank != q.Rank {
		return p.Rank > q.Rank
	}
	if !p.OccurredAt.Equal(q.OccurredAt) {
		return p.OccurredAt.After(q.OccurredAt)
	}
	return p.Received > q.Received
}
