package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Errors every backend returns for the same situations, so callers can map
// them to one answer whatever the backend.
var (
	// ErrNotFound is returned by lookups of an id that does not exist.
	ErrNotFound = errors.New("store: not found")

	// ErrBusy is returned by Append when the write queue is full. The
	// receiver answers 503 with Retry-After so the sender tries again later.
	ErrBusy = errors.New("store: write queue full")

	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("store: closed")

	// ErrLeaseLost is returned by Complete when the delivery's lease passed
	// to another worker (it expired first).
	ErrLeaseLost = errors.New("store: lease lost")

	// ErrNoSelection is returned by bulk operations given an empty selector.
	ErrNoSelection = errors.New("store: empty selection")

	// ErrTooLarge is returned for a record that cannot fit within a cap.
	ErrTooLarge = errors.New("store: record larger than the cap")

	// ErrNoStore is returned by an Open that must not create a store (a
	// read-only one, or one told the store must exist) when there is none
	// where it looks. The error names the place.
	ErrNoStore = errors.New("store: no hooklatch store")
)

// SchemaError is returned by an Open that must not migrate (a read-only
// one) when the store's schema is not the one this build reads: it is not
// a hooklatch store, or an older or a newer hooklatch wrote it. Every
// backend returns this one type, so callers test it with errors.As
// whatever the backend.
type SchemaError struct {
	// Where names the store: a file path, or "schema NAME" for a
	// PostgreSQL schema.
	Where   string
	Version int // the store's schema version; 0 when it is not a hooklatch store
	Want    int // the version this build reads
}

func (e *SchemaError) Error() string {
	switch {
	case e.Version == 0:
		return fmt.Sprintf("store: %s is not a hooklatch store", e.Where)
	case e.Version < e.Want:
		return fmt.Sprintf("store: %s was written by an older hooklatch (schema version %d, this build reads %d): serve brings it up to date when it next starts on it", e.Where, e.Version, e.Want)
	}
	return fmt.Sprintf("store: %s was written by a newer hooklatch (schema version %d, this build reads %d): upgrade this hooklatch to read it", e.Where, e.Version, e.Want)
}

// EventData is one accepted webhook as it was received: an immutable
// fact. The raw body is kept byte for byte; everything else is derived
// from it and from the headers when it was received. It is what NewEvent
// and Event have in common.
type EventData struct {
	// ID is the store-wide identifier, assigned by the caller: a UUIDv7,
	// so ids sort by time, made by NewEventID, so that the store finds its
	// short id through the body's hash.
	ID string `json:"id"`

	// Source names the endpoint the event came in on ("sent" by default).
	Source string `json:"source"`

	// DedupeKey is unique per source; a second Append with the same key, or
	// with the same Body, is a duplicate and stores nothing new.
	DedupeKey string `json:"dedupe_key"`

	Field       string `json:"field"`        // envelope field as sent ("message", "templates", …)
	Type        string `json:"type"`         // canonical type ("message.delivered")
	SubjectKind string `json:"subject_kind"` // "message_id", "template_id", …
	Subject     string `json:"subject"`      // the subject's id
	Status      string `json:"status"`       // message or template status, upper-case

	OccurredAt time.Time `json:"occurred_at"` // envelope timestamp; zero when absent
	ReceivedAt time.Time `json:"received_at"`

	// Scheme is the signature scheme that verified the request ("v1",
	// "legacy"), or "released" for a rejected request an operator released.
	Scheme string `json:"scheme"`

	// Attention is empty for a well-formed event of a known type, and says
	// what is odd otherwise ("unparseable: …", "unknown type: …"). Such
	// events are stored and acknowledged all the same: the sender cannot fix
	// them by retrying.
	Attention string `json:"attention,omitempty"`

	// Headers are the request headers that matter (Sent's x-webhook-*,
	// content type, user agent), lower-case names.
	Headers map[string]string `json:"headers"`

	// Body is the raw request body.
	Body []byte `json:"-"`

	// TraceParent is the event's creation context for tracing: the W3C
	// traceparent of the span that stored it, each delivery attempt's span
	// linking to it. Empty when tracing was off as it arrived, and for a
	// duplicate, whose own is not kept.
	TraceParent string `json:"trace_parent,omitempty"`
}

// NewEvent is what Append takes: an event and the destinations it goes
// to. Append does not change it.
type NewEvent struct {
	EventData

	// Destinations names where the event goes. Append creates one pending
	// delivery per name, due at ReceivedAt, in the event's transaction; a
	// name given twice is one delivery (DistinctDestinations).
	Destinations []string `json:"-"`

	// BodySHA256 is the SHA-256 of Body when the caller has it already,
	// as the receiver does, which made ID from it (NewEventID); zero, and
	// Append computes it (BodySum).
	BodySHA256 [sha256.Size]byte `json:"-"`
}

// BodySum is the SHA-256 of ev's body: BodySHA256, else computed.
func (ev *NewEvent) BodySum() [sha256.Size]byte {
	if ev.BodySHA256 != ([sha256.Size]byte{}) {
		return ev.BodySHA256
	}
	return sha256.Sum256(ev.Body)
}

// DistinctDestinations is ev.Destinations without the names given a second
// time, in their order: the deliveries Append creates. It is
// ev.Destinations itself when no name repeats.
func (ev *NewEvent) DistinctDestinations() []string {
	ds := ev.Destinations
	for i := 1; i < len(ds); i++ {
		if slices.Contains(ds[:i], ds[i]) {
			out := slices.Clone(ds[:i])
			for _, d := range ds[i+1:] {
				if !slices.Contains(out, d) {
					out = append(out, d)
				}
			}
			return out
		}
	}
	return ds
}

// Event is a stored event as read back: the event as received, and what
// the store keeps about it.
type Event struct {
	EventData

	// Seq is the order in which the store accepted the event. Assigned by
	// the store (AppendResult.Seq).
	Seq int64 `json:"seq"`

	// Duplicates counts the deliveries of the same dedupe key that arrived
	// after this one. Maintained by the store.
	Duplicates int64 `json:"duplicates"`

	// Rank is the event's place in its subject's lifecycle
	// (event.LifecycleRank of SubjectKind and Status). Set by the store.
	Rank int `json:"rank"`

	// Stale says a later state of the event's subject (event.Position.After)
	// had already been stored when this event arrived: it was out of order
	// on arrival. Set by the store; false for an event with no subject.
	Stale bool `json:"stale"`

	// DeliveryCounts counts the event's deliveries by status
	// (DeliveryPending, DeliveryDead, …); DeliveryState sums them up.
	// Filled by ListEvents; nil when the event has no delivery.
	DeliveryCounts map[DeliveryStatus]int `json:"delivery_counts,omitempty"`
}

// Delivery statuses. A delivery's life:
//
//	pending ──claim──▶ in_flight ──success──▶ succeeded
//	   ▲                  │ │
//	   └──temporary/snooze┘ └──permanent or attempts exhausted──▶ dead
//	   ▲                                                           │
//	   └───────────────── retry / replay ──────────────────────────┘
//	pending, dead ──discard──▶ discarded
//
// An in_flight delivery whose lease expires (its worker died) is claimed
// again; the lost attempt is recorded and counted.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryInFlight  DeliveryStatus = "in_flight"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryDead      DeliveryStatus = "dead"
	DeliveryDiscarded DeliveryStatus = "discarded"
)

// DeliveryStatus is where one delivery is in its life: one of the
// Delivery constants above, as the stores keep it. The same words, with
// DeliveryNone, name the states an event's deliveries sum up to
// (Event.DeliveryState, EventFilter.Delivery).
type DeliveryStatus string

// Delivery is one event going to one destination.
type Delivery struct {
	ID            int64          `json:"id"`
	EventSeq      int64          `json:"event_seq"`
	EventID       string         `json:"event_id"`
	Destination   string         `json:"destination"`
	Status        DeliveryStatus `json:"status"`
	Attempts      int            `json:"attempts"` // spent; snoozes do not count
	NextAttemptAt time.Time      `json:"next_attempt_at"`
	LeaseOwner    string         `json:"lease_owner,omitempty"`
	LeaseUntil    time.Time      `json:"lease_until,omitzero"`
	LastError     string         `json:"last_error,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at"`
}

// AttemptOutcome is how one attempt went: one of the Outcome constants.
type AttemptOutcome string

// Attempt outcomes recorded besides the destination's own.
const (
	OutcomeSucceeded    AttemptOutcome = "succeeded"
	OutcomeTemporary    AttemptOutcome = "temporary"
	OutcomePermanent    AttemptOutcome = "permanent"
	OutcomeSnoozed      AttemptOutcome = "snoozed"
	OutcomeLeaseExpired AttemptOutcome = "lease_expired"
	// OutcomeDead is a temporary failure, or an attempt lost with its
	// worker, that spent the delivery's last attempt: it made it dead.
	OutcomeDead AttemptOutcome = "dead"
)

// Attempt is one try of a delivery, for its timeline.
type Attempt struct {
	ID         int64 `json:"id"`
	DeliveryID int64 `json:"delivery_id"`
	// Attempt numbers the delivery's attempts across its whole life, 1, 2,
	// 3 …, retries and replays included (Delivery.Attempts restarts with a
	// fresh budget; this does not). Assigned by the store when the attempt
	// is recorded.
	Attempt    int            `json:"attempt"`
	StartedAt  time.Time      `json:"started_at"`
	Duration   time.Duration  `json:"duration_ns"`
	Outcome    AttemptOutcome `json:"outcome"`
	StatusCode int            `json:"status_code,omitempty"`
	Error      string         `json:"error,omitempty"`
	Response   string         `json:"response,omitempty"`
}

// ClaimParams says who claims how much work, when.
type ClaimParams struct {
	Owner string        // names the claiming worker pool; Required
	Now   time.Time     // due at or before Now
	Lease time.Duration // how long the claim holds; Required
	Limit int           // at most this many; Defaults to 100
	// Destinations, when not nil, limits the claim to deliveries to
	// these destinations (each taken oldest due first, through an index
	// per destination): how a dispatcher leaves a paused destination's
	// deliveries waiting. Defaults to every destination.
	Destinations []string
	// Concurrency bounds the deliveries in flight of the destinations it
	// names, over every claimer of the store together: the claim takes at
	// most the bound minus those whose lease has not expired, this
	// claimer's included. Claims of a bounded destination take their turn
	// (one at a time over all processes), so that no two of them count
	// the same places as free. It applies only to a claim that names its
	// Destinations. Defaults to none: a destination absent from it is
	// bounded only by Limit.
	Concurrency map[string]int
}

// Backlog is what waits for one destination: its pending deliveries.
type Backlog struct {
	// Pending counts them, up to MaxHeldCount when AtLeast says so.
	Pending int64 `json:"pending"`
	AtLeast bool  `json:"at_least,omitempty"`
	// Oldest is when the first of them is due (zero when none is);
	// LastError is the error of its last attempt, if it had one.
	Oldest    time.Time `json:"oldest,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// Claim is a claimed delivery with its event (and body).
type Claim struct {
	Delivery Delivery
	Event    *Event
	// Attempt is the number the attempt made under this claim gets when
	// it is recorded (Attempt.Attempt): one more than the attempts
	// recorded for the delivery over its whole life, retries, replays,
	// snoozes and lost attempts included. It is what the destination is
	// told (the Hooklatch-Attempt header), so that it matches what
	// `events show` lists; Delivery.Attempts, the attempts spent of the
	// current budget, restarts at a replay.
	Attempt int
	// Stale says that, when the delivery was claimed, the event's subject
	// had a later state than the event's own (event.Position.After): an
	// app that applies statuses can drop this one. SubjectStatus is that
	// latest state's status (the event's own status when it is the
	// latest); both are zero for an event with no subject.
	Stale         bool
	SubjectStatus string
}

// Completion records how an attempt went and what happens next.
type Completion struct {
	DeliveryID    int64
	Owner         string         // must still hold the lease, else ErrLeaseLost
	Status        DeliveryStatus // DeliveryPending (try again), DeliverySucceeded or DeliveryDead
	NextAttemptAt time.Time      // with DeliveryPending
	SpendAttempt  bool           // false for a snooze
	Attempt       Attempt        // recorded whatever happens to the status
	Now           time.Time
}

// DeliverySelector picks deliveries for bulk operations. At least one of
// IDs, EventIDs or Statuses must be set, so that no call touches every
// delivery by accident.
type DeliverySelector struct {
	IDs         []int64
	EventIDs    []string
	Statuses    []DeliveryStatus // e.g. []DeliveryStatus{DeliveryDead}
	Destination string           // narrows any of the above
}

// DeliveryFilter selects deliveries to list. Zero fields match everything.
type DeliveryFilter struct {
	EventID     string
	Status      DeliveryStatus
	Destination string
	AfterID     int64 // pages forward by id
	Limit       int   // Defaults to 100; at most 10000
}

// AppendResult says what Append did.
type AppendResult struct {
	// EventID is the id of the stored event: the new one, or for a
	// duplicate the one stored first.
	EventID string
	// Seq is the stored event's Seq.
	Seq int64
	// Duplicate is true when an event with the same source and either the
	// same dedupe key or the same body was already stored; nothing new was
	// written but its duplicate count.
	Duplicate bool
	// Handed is true when the append created deliveries and claimed every
	// one of them in its own transaction, for the dispatcher that asked
	// (AppendClaimer): none waits for a claim, so nobody need be woken.
	Handed bool
}

// Rejection is a request that failed verification, kept so an operator can
// see why and, once the cause is fixed, release it into the pipeline.
type Rejection struct {
	ID         int64             `json:"id"`
	Source     string            `json:"source"`
	ReceivedAt time.Time         `json:"received_at"`
	RemoteAddr string            `json:"remote_addr"`
	Reason     string            `json:"reason"`    // short code ("no_match", "stale_timestamp", …)
	Detail     string            `json:"detail"`    // the verifier's error text
	Diagnosis  string            `json:"diagnosis"` // signature.Diagnose, in words
	Headers    map[string]string `json:"headers"`   // request headers without credentials
	// Body is the request body as kept: all of it, or when Truncated only
	// its first bytes.
	Body []byte `json:"-"`
	// BodyBytes is the length of the whole body as received, and
	// BodySHA256 the hex SHA-256 of all of it, whether or not it was kept
	// whole.
	BodyBytes  int64  `json:"body_bytes"`
	BodySHA256 string `json:"body_sha256"`
	// Truncated is true when Body holds only a prefix of the body: such a
	// rejection can be inspected but never verified again or released.
	Truncated bool `json:"truncated"`
	// ReleasedAt and EventID are set once the rejection was released into
	// the pipeline.
	ReleasedAt time.Time `json:"released_at,omitzero"`
	EventID    string    `json:"event_id,omitempty"`
}

// RejectionLimits bound the rejection log. The caps are split evenly
// across the reasons (per source) in the log, and each reason keeps its
// newest rejections within its share, dropping its oldest first: a flood
// of one reason cannot evict the samples of another. The newest rejection
// of each reason is always kept, so the log may pass MaxBytes by at most
// one rejection per reason.
type RejectionLimits struct {
	MaxCount int   // Defaults to 1000.
	MaxBytes int64 // bodies and headers together. Defaults to 64 MiB.
}

// WithDefaults returns l with zero fields set to their defaults.
func (l RejectionLimits) WithDefaults() RejectionLimits {
	if l.MaxCount <= 0 {
		l.MaxCount = 1000
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	return l
}

// RejectionCount is how many requests one source rejected for one reason,
// whether or not any of them was kept in the log.
type RejectionCount struct {
	Source  string    `json:"source"`
	Reason  string    `json:"reason"`
	Count   int64     `json:"count"`
	FirstAt time.Time `json:"first_at"`
	LastAt  time.Time `json:"last_at"`
	// Kept is how many of them the log holds now. Set by RejectionCounts;
	// CountRejections ignores it.
	Kept int64 `json:"kept"`
}

// EventFilter selects events. Zero fields match everything.
type EventFilter struct {
	// Type is an exact type, or a prefix ending in "*" ("message.*"):
	// see TypesMatching.
	Type    string
	Subject string // subject id
	// Source matches the events of one source ("sent", "payments", …),
	// through the (source, seq) index.
	Source string
	Since  time.Time // received at or after
	Until  time.Time // received before
	// AfterSeq pages forward: only events with Seq > AfterSeq, oldest first.
	AfterSeq int64
	// BeforeSeq pages backward: only events with Seq < BeforeSeq, newest first.
	// Ignored when AfterSeq is set.
	BeforeSeq int64
	// MinSeq, when set, matches only events with Seq >= MinSeq: with
	// BeforeSeq, it bounds how far back a page walks, so that a filter the
	// store tests event by event costs a bounded walk (see internal/inspect).
	MinSeq int64
	// Limit caps the result. Defaults to 100; at most 10000.
	Limit int

	// IDSuffix matches the events whose id ends with it: the short id
	// `hooklatch listen` prints is the last eight characters. It must be
	// at least MinIDSuffix characters long (the backends find it through
	// an index of that many), else ListEvents returns an error.
	IDSuffix string
	// DedupeKeys matches the events with any of these dedupe keys, in any
	// source.
	DedupeKeys []string
	// Delivery matches the events that have at least one delivery in this
	// state, whatever their other deliveries are: DeliveryDead,
	// DeliveryPending (pending or in flight), DeliverySucceeded,
	// DeliveryDiscarded; or DeliveryNone for events without a delivery
	// (see DeliveryStateStatuses). Any other value is an error.
	Delivery DeliveryStatus
	// AttentionOnly matches only the events marked for attention (whose
	// Attention is not empty). The backends find them through an index
	// of those alone.
	AttentionOnly bool
}

// Route is what the store knows of one destination: enough to route an
// event added or requeued outside the receiver (a released rejection, a
// backfill, a replay) exactly as the receiver would have.
type Route struct {
	Name  string   `json:"name"`
	Types []string `json:"types,omitempty"` // exact types or "message.*" patterns; empty: every type
	// Sources names the sources the destination takes events from; empty:
	// every source.
	Sources []string `json:"sources,omitempty"`
	// Filter is the destination's content filter as written (see
	// internal/filter); empty: none.
	Filter string `json:"filter,omitempty"`
	// Order is how the destination takes the events of one subject:
	// OrderNone (in parallel) or OrderSubject (one at a time, see
	// OrderSubject). The store orders the deliveries it creates for the
	// destination while the route says so.
	Order string `json:"order,omitempty"`
	// Rate is the destination's rate limit ("50/s"), empty for none, and
	// Concurrency how many attempts to it run at once: over every process
	// sharing the store when it was configured (ConcurrencyShared), else
	// the default, in each. Recorded to be shown (destinations ls), not
	// read by the store.
	Rate              string `json:"rate,omitempty"`
	Concurrency       int    `json:"concurrency,omitempty"`
	ConcurrencyShared bool   `json:"concurrency_shared,omitempty"`
}

// Orders a destination can take the events of one subject in (Route.Order).
const (
	// OrderNone delivers every delivery as soon as it is due, in
	// parallel. The default.
	OrderNone = ""
	// OrderSubject delivers the events of one subject one at a time:
	// no two deliveries of a subject to the destination are in flight at
	// once, and the next one is the subject's pending delivery lowest by
	// event.Position (lifecycle rank, then occurred_at, then receipt). A
	// delivery waiting for a retry holds back its subject's later ones,
	// and no other subject's; a dead or discarded one releases its
	// subject. Events with no subject are not ordered.
	OrderSubject = "subject"
)

// Stats are counts for health pages and tests.
type Stats struct {
	Events     int64                    `json:"events"`
	Duplicates int64                    `json:"duplicates"`
	Attention  int64                    `json:"attention"`
	Rejections int64                    `json:"rejections"`
	Deliveries map[DeliveryStatus]int64 `json:"deliveries"` // by status
	// HeldSubjects counts, for each destination with OrderSubject, its
	// subjects whose next delivery waits for a retry after a failed
	// attempt, holding back the subject's later deliveries. Counted
	// through an index of those alone, up to MaxHeldCount: at least
	// that many when it says so.
	HeldSubjects map[string]int64 `json:"held_subjects,omitempty"`
}

// MaxHeldCount bounds each count of Stats.HeldSubjects, so that Stats
// costs the same whatever the store holds.
const MaxHeldCount = 10000

// MinuteStats is what the receiver and the dispatcher did in one minute,
// as the admin's sampler counts it from their counters: the per-minute
// history the dashboard charts, kept across restarts.
type MinuteStats struct {
	Start      time.Time // the minute, truncated
	Received   int64     // accepted, attention included
	Duplicates int64     // acknowledged, not stored again
	Rejected   int64     // failed verification
	Refused    int64     // answered 503
	Delivered  int64     // attempts that succeeded
	Failed     int64     // attempts that failed
	Dead       int64     // attempts that left their delivery dead
	// AckBuckets counts the minute's answers per bucket of the
	// receiver's latency histogram (not cumulative), in the order of its
	// bounds.
	AckBuckets []int64
}

// Store is the seam every backend implements. Every method takes a context
// and returns this package's types, never a driver's.
type Store interface {
	// Append stores ev unless an event with the same Source and either the
	// same DedupeKey or a byte-identical Body exists: the dedupe key comes
	// from headers no signature covers, the body is the signed bytes, so a
	// captured request replayed under a new key still meets its first
	// event. A duplicate names the first event it matches (the lowest Seq).
	// It returns only once the outcome is durable; the result says where
	// the event went (AppendResult.Seq), ev is left as it was. It returns
	// ErrBusy without waiting when the write queue is full.
	Append(ctx context.Context, ev *NewEvent) (AppendResult, error)

	// GetEvent returns one event with its body, or ErrNotFound.
	GetEvent(ctx context.Context, id string) (*Event, error)

	// ListEvents returns events without bodies, in Seq order: ascending by
	// default and with AfterSeq, descending with BeforeSeq.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)

	// CountEvents returns how many events ListEvents would return for f
	// with f.Limit up to MaxCount (defaults to 100): the same walk, which
	// stops at the limit, without reading the events.
	CountEvents(ctx context.Context, f EventFilter) (int, error)

	// SeqReceivedSince returns a seq that no event received at t or later
	// lies below, one above the newest seq when none was (see
	// SeqSinceFunc): where a walk of the events received since t, newest
	// first, can stop.
	SeqReceivedSince(ctx context.Context, t time.Time) (int64, error)

	// AddRejection records a rejected request as a sample of its reason,
	// within limits (see RejectionLimits: the oldest of a reason are
	// dropped first), and says how many it dropped. It sets r.ID. A
	// rejection larger than limits.MaxBytes on its own is not kept and
	// returns ErrTooLarge. It does not count the rejection: CountRejections
	// does, for every rejection, kept or not.
	AddRejection(ctx context.Context, r *Rejection, limits RejectionLimits) (dropped int, err error)

	// CountRejections adds counts to the totals per source and reason:
	// Count is added, FirstAt keeps the earliest and LastAt the latest.
	CountRejections(ctx context.Context, counts []RejectionCount) error

	// RejectionCounts returns the totals per source and reason, the most
	// rejected first.
	RejectionCounts(ctx context.Context) ([]RejectionCount, error)

	// ListRejections returns the newest rejections first, without bodies.
	ListRejections(ctx context.Context, limit int) ([]Rejection, error)

	// GetRejection returns one rejection with its body, or ErrNotFound.
	GetRejection(ctx context.Context, id int64) (*Rejection, error)

	// MarkRejectionReleased records that rejection id became event eventID.
	MarkRejectionReleased(ctx context.Context, id int64, eventID string, at time.Time) error

	// Claim leases up to p.Limit due deliveries to p.Owner: pending ones
	// whose time has come, and in-flight ones whose lease expired (their
	// lost attempt is recorded and counted). Oldest due first.
	Claim(ctx context.Context, p ClaimParams) ([]Claim, error)

	// Complete records an attempt and moves its delivery on. It returns
	// ErrLeaseLost, having recorded the attempt, when the delivery is no
	// longer leased to c.Owner.
	Complete(ctx context.Context, c Completion) error

	// NextDue returns when the earliest pending delivery is due or
	// in-flight lease expires; ok is false when there is none.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)

	// ListDeliveries returns deliveries by ascending id.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)

	// ListAttempts returns a delivery's attempts, oldest first.
	ListAttempts(ctx context.Context, deliveryID int64) ([]Attempt, error)

	// Requeue makes the selected deliveries pending and due at now, with a
	// fresh attempt budget (their history stays). In-flight deliveries
	// are left alone. It returns how many it requeued.
	Requeue(ctx context.Context, sel DeliverySelector, now time.Time) (int, error)

	// AddDeliveries gives each named event a pending delivery to
	// destination, due at now, unless it already has one (those are left
	// as they are: Requeue them). It is how an event reaches a destination
	// that did not exist, or did not want it, when it arrived. It returns
	// how many deliveries it created; ids of events not stored are ignored.
	AddDeliveries(ctx context.Context, eventIDs []string, destination string, now time.Time) (int, error)

	// Discard marks the selected pending or dead deliveries discarded.
	Discard(ctx context.Context, sel DeliverySelector, now time.Time) (int, error)

	// SetRoutes records the destinations the process serving the store
	// delivers to, replacing those recorded before; an empty list records
	// that it delivers nowhere.
	SetRoutes(ctx context.Context, routes []Route) error

	// Routes returns the routes last recorded, in order; recorded is false
	// when none ever were.
	Routes(ctx context.Context) (routes []Route, recorded bool, err error)

	// SetPaused pauses or resumes a destination, for every process that
	// shares the store: a paused destination's deliveries are created and
	// stay pending, and a dispatcher claims none of them.
	SetPaused(ctx context.Context, destination string, paused bool, at time.Time) error

	// Paused returns the paused destinations and when each was paused.
	// It reads a table of one row per destination ever paused.
	Paused(ctx context.Context) (map[string]time.Time, error)

	// Backlog says what waits for destination, through an index of the
	// pending deliveries by destination: its cost does not grow with the
	// number stored beyond MaxHeldCount.
	Backlog(ctx context.Context, destination string) (Backlog, error)

	// Subject returns the latest state of subject, of events received on
	// source, or ErrNotFound when the store has none (no event of it, or
	// all of them pruned). Its events are ListEvents' with that Subject.
	Subject(ctx context.Context, source, subject string) (*SubjectState, error)

	// Stats counts what is stored.
	Stats(ctx context.Context) (Stats, error)

	// AddMinutes adds each minute's counts to those stored for the same
	// minute (several processes sharing a store add up; AckBuckets add
	// bucket by bucket), and deletes the minutes that start before
	// keepFrom: the history stays as long as its readers show.
	AddMinutes(ctx context.Context, minutes []MinuteStats, keepFrom time.Time) error

	// Minutes returns the stored minutes that start at since or later,
	// oldest first.
	Minutes(ctx context.Context, since time.Time) ([]MinuteStats, error)

	// Ready returns nil when the store can take writes.
	Ready(ctx context.Context) error

	// Close waits for writes in flight and releases the store.
	Close() error
}

// AppendClaimer is implemented by a store that can claim a delivery in
// the transaction that creates it (SQLite and PostgreSQL): the dispatcher
// of the process that appends, while it has a free place for the
// delivery, takes it there and then, leased to itself, and is handed the
// claim once the append has committed. That saves a claim's transaction and its index
// changes for every delivery that finds the dispatcher idle, and the wait
// for it between the acknowledgement and the attempt.
type AppendClaimer interface {
	// ClaimOnAppend makes later appends offer their deliveries to h; nil
	// stops it. Appends already under way may still use the one before.
	ClaimOnAppend(h *AppendClaims)
}

// AppendClaims is what a dispatcher gives AppendClaimer.ClaimOnAppend.
type AppendClaims struct {
	// Owner and Lease are the claims' lease, as ClaimParams's, and Now
	// the dispatcher's clock, which the lease counts from.
	Owner string
	Lease time.Duration
	Now   func() time.Time
	// Take reports whether the dispatcher has a place for a new delivery
	// to destination now, and takes it. It runs on the store's writer, in
	// the append's transaction: it must be quick and never block.
	Take func(destination string) bool
	// Untake gives back a place Take gave, for a delivery whose
	// transaction rolled back.
	Untake func(destination string)
	// Claimed is handed the claims of a transaction once it has
	// committed, each of a delivery Take gave a place for, with its event
	// and Attempt 1. The store cannot take them back: a dispatcher that no
	// longer runs them leaves them in flight until their lease expires or
	// the store's owner next opens it (which makes them pending again at
	// once). It must not block.
	Claimed func([]Claim)
}

// HandedEvent is the event of a claim an append hands over: data, stored
// at seq with its lifecycle rank and stale flag, as a claim would read it
// back. The headers and body are copied: the appended event's memory is
// its caller's.
func HandedEvent(data EventData, seq int64, rank int, stale bool) *Event {
	ev := &Event{EventData: data, Seq: seq, Rank: rank, Stale: stale}
	ev.Headers = maps.Clone(ev.Headers)
	ev.Body = slices.Clone(ev.Body)
	if ev.Body == nil {
		ev.Body = []byte{}
	}
	return ev
}

// SlotBooker is implemented by a store that several processes share
// (PostgreSQL): it keeps each destination's rate limit and Retry-After
// hold, so that they hold for the destination as a whole rather than per
// process. A dispatcher books the slots of a claimed batch with one call.
type SlotBooker interface {
	// BookSlots books, for each request, up to Want starts of its
	// destination, each Step after the previous (twice that while the
	// destination is slowed after a hold), the first at Now or at the
	// destination's next free slot or hold's end, whichever is latest, and
	// none after Latest. Bookings are in the order of reqs.
	BookSlots(ctx context.Context, now time.Time, reqs []SlotRequest) ([]SlotBooking, error)
	// HoldDestination holds destination: nothing starts before until, and
	// until slowUntil its slots are twice as far apart. A hold never
	// shortens one already in force. Every process is woken to see it.
	HoldDestination(ctx context.Context, destination string, until, slowUntil time.Time) error
	// Holds returns the holds that end after now, with their slow-down.
	Holds(ctx context.Context, now time.Time) (map[string]Hold, error)
}

// SlotRequest asks for Want slots of Destination, Step apart, none after
// Latest.
type SlotRequest struct {
	Destination string
	Want        int
	Step        time.Duration
	Latest      time.Time
}

// SlotBooking is what BookSlots booked: Booked starts (at most Want),
// the first at First and the others Step apart. Next is the start of the
// destination's next free slot after them: with Booked < Want, when the
// deliveries left without one may come back.
type SlotBooking struct {
	First  time.Time
	Step   time.Duration
	Booked int
	Next   time.Time
	Hold   Hold
}

// Hold is a Retry-After hold on a destination: nothing starts before
// Until; its slots are twice as far apart until SlowUntil.
type Hold struct {
	Until     time.Time
	SlowUntil time.Time
}
