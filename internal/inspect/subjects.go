package inspect

import (
	"context"
	"fmt"
	"math"

	"github.com/hooklatch/hooklatch/store"
)

// DefaultSubjectSource is the source a subject is looked up in when none
// is named: Sent's, the endpoint serve has by default.
const DefaultSubjectSource = "sent"

// SubjectEventsMax bounds how many of a subject's events Subject returns,
// the newest: a message has a handful, and a template or a contact
// reviewed again and again is shown as far back as this.
const SubjectEventsMax = 500

// SubjectDetail is a subject's latest state (store.SubjectState) and its
// events, newest first, each with its lifecycle rank and whether it was
// stale on arrival (a later state of the subject had been received).
type SubjectDetail struct {
	State  store.SubjectState `json:"state"`
	Events []store.Event      `json:"events"`
	// More says the subject has more events than Events holds (older
	// ones, past SubjectEventsMax).
	More bool `json:"more,omitempty"`
}

// Subject returns the latest state of subject, of events received on
// source (DefaultSubjectSource when empty), with its events; an error
// wrapping store.ErrNotFound when the store has no state for it. Its
// events are found through the store's (subject, seq) index, newest
// first, and those of other sources left out.
func (in *Inspector) Subject(ctx context.Context, source, subject string) (*SubjectDetail, error) {
	if source == "" {
		source = DefaultSubjectSource
	}
	if subject == "" {
		return nil, fmt.Errorf("%w: empty subject id", store.ErrNotFound)
	}
	st, err := in.store.Subject(ctx, source, subject)
	if err != nil {
		if err == store.ErrNotFound {
			return nil, fmt.Errorf("%w: no subject %s in source %s", store.ErrNotFound, subject, source)
		}
		return nil, err
	}
	d := &SubjectDetail{State: *st, Events: []store.Event{}}
	for before := int64(math.MaxInt64); ; {
		page, err := in.store.ListEvents(ctx, store.EventFilter{Subject: subject, BeforeSeq: before, Limit: SubjectEventsMax + 1})
		if err != nil {
			return nil, err
		}
		for _, ev := range page {
			if ev.Source != source {
				continue
			}
			if len(d.Events) == SubjectEventsMax {
				d.More = true
				return d, nil
			}
			d.Events = append(d.Events, ev)
		}
		if len(page) < SubjectEventsMax+1 {
			return d, nil
		}
		before = page[len(page)-1].Seq
	}
}
