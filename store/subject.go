package store

import (
	"context"
	"time"
)

// SubjectState is the latest state of one subject (a message, a template,
// …): the event of its subject that is latest by the lifecycle order
// (event.LifecycleRank, event.Position.After), whatever order its events
// arrived in. The store keeps it up to date in the append transaction.
type SubjectState struct {
	Source  string `json:"source"`  // the endpoint its events came in on
	Kind    string `json:"kind"`    // "message_id", "template_id", …
	Subject string `json:"subject"` // the subject's id

	Status     string    `json:"status"`               // the latest state's status
	Rank       int       `json:"rank"`                 // its lifecycle rank
	EventID    string    `json:"event_id"`             // the event that set it
	OccurredAt time.Time `json:"occurred_at,omitzero"` // when it was reached, per the envelope
	ReceivedAt time.Time `json:"received_at"`          // when that event was stored

	// Events counts the subject's events stored (duplicates not included).
	Events int64 `json:"events"`
	// UpdatedAt is when the latest state last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// SubjectBackfiller is a store that gives the events it stored before it
// kept subjects' states theirs, in the background (retention runs it).
type SubjectBackfiller interface {
	// BackfillSubjects fills in up to limit such events, oldest first,
	// as the append would have: their ranks, stale flags and their
	// subjects' states and counts. done says none is left.
	BackfillSubjects(ctx context.Context, limit int) (events int64, done bool, err error)
}
