package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hooklatch/hooklatch/event"
)

// MinIDSuffix is the fewest characters of an event id's end FindEvent
// takes as a short id: fewer would name too many events to be worth a
// search. `hooklatch listen` prints eight.
const MinIDSuffix = 6

// maxCandidates bounds the events an AmbiguousError lists.
const maxCandidates = 5

// AmbiguousError is returned by FindEvent when ref names several events.
type AmbiguousError struct {
	Ref string
	// Candidates are some of the events ref names, newest first.
	Candidates []Event
	// More is true when ref names more events than Candidates holds.
	More bool
}

func (e *AmbiguousError) Error() string {
	ids := make([]string, len(e.Candidates))
	for i, c := range e.Candidates {
		ids[i] = c.ID
	}
	more := ""
	if e.More {
		more = " and more"
	}
	return fmt.Sprintf("%s names several events (%s%s): give more of the id", e.Ref, strings.Join(ids, ", "), more)
}

// FindEvent returns, with its body, the one event ref names: its id, the
// end of its id (at least MinIDSuffix characters, such as the short id
// `hooklatch listen` prints), Sent's id for it (event.IDKeys) or its
// dedupe key. When no
// event matches it returns an error wrapping ErrNotFound; when several do,
// an *AmbiguousError listing them. Every command and API that takes an
// event id resolves it here, so that they all take the same ids.
func FindEvent(ctx context.Context, s Store, ref string) (*Event, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: empty event id", ErrNotFound)
	}
	ev, err := s.GetEvent(ctx, ref)
	if !errors.Is(err, ErrNotFound) {
		return ev, err
	}
	var found []Event
	filters := []EventFilter{{DedupeKeys: append([]string{ref}, event.IDKeys(ref)...)}}
	if len(ref) >= MinIDSuffix {
		filters = append(filters, EventFilter{IDSuffix: ref})
	}
	for _, f := range filters {
		f.BeforeSeq, f.Limit = math.MaxInt64, maxCandidates+1
		evs, err := s.ListEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if !slices.ContainsFunc(found, func(x Event) bool { return x.ID == e.ID }) {
				found = append(found, e)
			}
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no event %s", ErrNotFound, ref)
	case 1:
		return s.GetEvent(ctx, found[0].ID)
	}
	slices.SortFunc(found, func(a, b Event) int { return cmp.Compare(b.Seq, a.Seq) })
	amb := &AmbiguousError{Ref: ref, Candidates: found, More: len(found) > maxCandidates}
	amb.Candidates = amb.Candidates[:min(len(found), maxCandidates)]
	return nil, amb
}
