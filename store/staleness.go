package store

import (
	"encoding/json"

	"github.com/hooklatch/hooklatch/event"
)

// SubjectKey names one subject: the stores keep a latest state per key.
type SubjectKey struct{ Source, Subject string }

// SubjectKeys are the distinct subjects of some claims.
type SubjectKeys []SubjectKey

// JSON returns the keys as a JSON array of [source, subject] pairs, for a
// backend to read them as one parameter.
func (ks SubjectKeys) JSON() string {
	pairs := make([][2]string, len(ks))
	for i, k := range ks {
		pairs[i] = [2]string{k.Source, k.Subject}
	}
	b, _ := json.Marshal(pairs) // strings only: it cannot fail
	return string(b)
}

// ClaimSubjects returns the distinct subjects of the claims' events;
// events with no subject have none.
func ClaimSubjects(claims []Claim) SubjectKeys {
	var (
		keys SubjectKeys
		seen = map[SubjectKey]bool{}
	)
	for _, c := range claims {
		if c.Event == nil || c.Event.Subject == "" {
			continue
		}
		k := SubjectKey{c.Event.Source, c.Event.Subject}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// Latest is a subject's latest state as a claim compares its event with
// it.
type Latest struct {
	Status   string
	Position event.Position // Received is the seq of the event that set it
}

// FillStaleness sets each claim's Stale and SubjectStatus from the latest
// states of the subjects (ClaimSubjects) read at claim time: a delivery is
// stale when its subject's latest state is after its event's position
// (event.Position.After), that is, another event of the subject is later.
// A subject with no state yet (its events were stored before states were
// kept) leaves its claims not stale, with their own status.
func FillStaleness(claims []Claim, latest map[SubjectKey]Latest) {
	for i := range claims {
		ev := claims[i].Event
		if ev == nil || ev.Subject == "" {
			continue
		}
		l, ok := latest[SubjectKey{ev.Source, ev.Subject}]
		own := event.Position{Rank: ev.Rank, OccurredAt: ev.OccurredAt, Received: ev.Seq}
		if !ok || !l.Position.After(own) {
			claims[i].Stale, claims[i].SubjectStatus = false, ev.Status
			continue
		}
		claims[i].Stale, claims[i].SubjectStatus = true, l.Status
	}
}
