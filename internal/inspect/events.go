package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// Inspector reads and acts on one store.
type Inspector struct {
	store   store.Store
	now     func() time.Time
	scan    int64                    // scanBudget, but in tests
	sources map[string]source.Source // other providers' sources, by name, for Release
	// breakers reports the open circuit breakers; nil: none known
	breakers func() map[string]time.Time
}

// New returns an Inspector on st. now defaults to time.Now.
func New(st store.Store, now func() time.Time) *Inspector {
	if now == nil {
		now = time.Now
	}
	return &Inspector{store: st, now: now, scan: scanBudget}
}

// WithSources has Release verify the rejections of other providers'
// sources with their Source (by source name); those of any other source
// are verified as Sent's. It returns in.
func (in *Inspector) WithSources(sources map[string]source.Source) *Inspector {
	in.sources = sources
	return in
}

// Store returns the store the inspector reads.
func (in *Inspector) Store() store.Store { return in.store }

// Attention filter words for Query.Attention.
const (
	AttentionAny  = ""     // every event
	AttentionOnly = "only" // events marked for attention
	AttentionNone = "none" // well-formed events of known types
)

// scanBudget bounds how many seqs one List walks down to fill a page when
// the store tests its filter event by event (see Query.scans): a page then
// costs the same however large the store, and ends with a cursor to go on
// from where the walk stopped, full or not.
const scanBudget = 5000

// Query selects events for a list, newest first.
type Query struct {
	// Filter narrows the events; its AfterSeq and BeforeSeq are ignored
	// (use Cursor) and its Limit is the page size (Defaults to 50).
	Filter store.EventFilter
	// Attention is AttentionAny, AttentionOnly or AttentionNone.
	Attention string
	// Cursor is a Page.Next from an earlier call, or "" for the newest.
	Cursor string
}

// Page is one page of events, newest first.
type Page struct {
	Events []store.Event `json:"events"`
	// Next is the cursor of the following (older) page; "" at the end.
	Next string `json:"next,omitempty"`
}

// Validate says what is wrong with q, in the words of its filters.
func (q Query) Validate() error {
	if d := q.Filter.Delivery; d != "" && !slices.Contains(store.DeliveryStates(), string(d)) {
		return fmt.Errorf("delivery status %q: want one of %s", d, strings.Join(store.DeliveryStates(), ", "))
	}
	switch q.Attention {
	case AttentionAny, AttentionOnly, AttentionNone:
	default:
		return fmt.Errorf("attention %q: want %s or %s", q.Attention, AttentionOnly, AttentionNone)
	}
	if _, err := parseCursor(q.Cursor); err != nil {
		return err
	}
	if !q.Filter.Since.IsZero() && !q.Filter.Until.IsZero() && !q.Filter.Until.After(q.Filter.Since) {
		return errors.New("the time range ends before it starts: until must be after since")
	}
	return nil
}

// CursorAt is the cursor of a page that starts with the event whose seq
// is seq and goes on to older ones: a walk resumed from it leaves out
// every event stored after that one.
func CursorAt(seq int64) string { return strconv.FormatInt(seq+1, 10) }

// ParseTime reads a time given as RFC 3339 or as a duration meaning that
// long before now ("2h"); "" is the zero time. name is the setting's
// name, for the error.
func ParseTime(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2026-01-02T10:00:00Z) or a duration ago (1h)", name, v)
	}
	// Stores keep times as nanoseconds since 1970, which end in 2262.
	if t.Year() < 1970 || t.Year() > 2200 {
		return time.Time{}, fmt.Errorf("%s %q: want a time between 1970 and 2200", name, v)
	}
	return t, nil
}

func parseCursor(c string) (int64, error) {
	if c == "" {
		return math.MaxInt64, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cursor %q: pass back the next value of an earlier page", c)
	}
	return n, nil
}

func (q Query) keeps(ev *store.Event) bool {
	switch q.Attention {
	case AttentionOnly:
		return ev.Attention != ""
	case AttentionNone:
		return ev.Attention == ""
	}
	return true
}

// scans reports whether the store finds q's events by testing each event
// it walks, newest first, rather than through an index of them: the end
// of a time range (its start is a seq the walk stops at: floor), the
// delivery states most events are in or none is, the well-formed events.
// Such a walk goes as far as the matches are apart, the whole store when
// none matches, so List bounds it.
func (q Query) scans() bool {
	switch q.Filter.Delivery {
	case store.DeliveryNone, store.DeliverySucceeded:
		return true
	}
	return !q.Filter.Until.IsZero() || q.Attention == AttentionNone
}

// floor returns the lowest seq a walk of q's events must reach: the one
// below which no event received since q's Since lies
// (store.SeqReceivedSince), 0 without Since. A time range is thus walked
// from its start rather than to the oldest event.
func (in *Inspector) floor(ctx context.Context, q Query) (int64, error) {
	if q.Filter.Since.IsZero() {
		return 0, nil
	}
	return in.store.SeqReceivedSince(ctx, q.Filter.Since)
}

// List returns a page of the events q selects, newest first. When the
// store tests q's filter event by event, the page walks at most
// scanBudget seqs, and may hold fewer events than asked, or none, with a
// cursor to go on.
func (in *Inspector) List(ctx context.Context, q Query) (Page, error) {
	if err := q.Validate(); err != nil {
		return Page{}, err
	}
	before, _ := parseCursor(q.Cursor)
	limit := q.Filter.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 10000)
	f := q.Filter
	f.AfterSeq = 0
	f.AttentionOnly = q.Attention == AttentionOnly // the store finds them through an index of them alone
	bottom, err := in.floor(ctx, q)                // where the walk ends
	if err != nil {
		return Page{}, err
	}
	f.MinSeq = bottom
	scanning := q.scans()
	if scanning {
		var oldest int64
		if oldest, before, err = in.seqRange(ctx, before); oldest == 0 || err != nil {
			return Page{}, err
		}
		bottom = max(bottom, oldest)
	}
	var page Page
	if before <= bottom {
		return page, nil
	}
	for walked := int64(0); ; {
		top := before
		f.BeforeSeq, f.Limit = before, limit-len(page.Events)
		if q.Attention == AttentionNone {
			f.Limit = min(max(2*f.Limit, 200), 10000)
		}
		if scanning {
			f.MinSeq = max(bottom, before-(in.scan-walked))
		}
		evs, err := in.store.ListEvents(ctx, f)
		if err != nil {
			return Page{}, err
		}
		full := false
		for i := range evs {
			before = evs[i].Seq
			if q.keeps(&evs[i]) {
				page.Events = append(page.Events, evs[i])
				if full = len(page.Events) == limit; full {
					break
				}
			}
		}
		exhausted := len(evs) < f.Limit // nothing more from f.MinSeq up
		if exhausted && scanning && !full {
			before = f.MinSeq // walked down to there
		}
		end := exhausted && f.MinSeq <= bottom // nothing older to walk
		walked += top - before
		switch {
		case full && end && before == evs[len(evs)-1].Seq:
			return page, nil
		case full, !end && scanning && walked >= in.scan:
			page.Next = strconv.FormatInt(before, 10)
			return page, nil
		case end:
			return page, nil
		}
	}
}

// seqRange returns the seq of the oldest stored event, 0 when there is
// none, and before brought down to just above the newest, so that a walk
// down from it counts only seqs that were given out.
func (in *Inspector) seqRange(ctx context.Context, before int64) (oldest, below int64, err error) {
	first, err := in.store.ListEvents(ctx, store.EventFilter{Limit: 1})
	if err != nil || len(first) == 0 {
		return 0, 0, err
	}
	last, err := in.store.ListEvents(ctx, store.EventFilter{BeforeSeq: before, Limit: 1})
	if err != nil || len(last) == 0 {
		return 0, 0, err
	}
	return first[0].Seq, min(before, last[0].Seq+1), nil
}

// countScan bounds how many seqs Count walks down when the store tests
// q's filter event by event (Query.scans): past it, the count says "at
// least".
const countScan = 4 * scanBudget

// Count is how many events a filter selects, as far as Inspector.Count
// counted them.
type Count struct {
	N int
	// More is true when there are more than N: the count stopped at its
	// limit.
	More bool
	// Partial is true when the count stopped before the oldest events,
	// having walked as far as it may (countScan): there are at least N.
	Partial bool
}

// Count counts the events q selects (q.Cursor and the page size
// ignored), up to limit, without reading them: through the store's
// index of them (store.CountEvents), from the newest down to where a
// time range starts. When the store tests q's filter event by event, it
// walks at most countScan seqs. Its cost is thus bounded by limit and
// countScan, however large the store.
func (in *Inspector) Count(ctx context.Context, q Query, limit int) (Count, error) {
	if err := q.Validate(); err != nil {
		return Count{}, err
	}
	limit = min(max(limit, 1), store.MaxCount-1)
	f := q.Filter
	f.AfterSeq, f.BeforeSeq, f.Limit = 0, math.MaxInt64, limit+1
	f.AttentionOnly = q.Attention == AttentionOnly
	bottom, err := in.floor(ctx, q)
	if err != nil {
		return Count{}, err
	}
	f.MinSeq = bottom
	if !q.scans() {
		n, err := in.store.CountEvents(ctx, f)
		return Count{N: min(n, limit), More: n > limit}, err
	}
	oldest, top, err := in.seqRange(ctx, math.MaxInt64)
	if oldest == 0 || err != nil {
		return Count{}, err
	}
	bottom = max(bottom, oldest)
	f.MinSeq = max(bottom, top-min(in.scan*countScan/scanBudget, countScan))
	if q.Attention == AttentionNone {
		// The store cannot tell the well-formed events: pages of them.
		return in.countPages(ctx, q, limit, f.MinSeq, bottom)
	}
	n, err := in.store.CountEvents(ctx, f)
	return Count{N: min(n, limit), More: n > limit, Partial: n <= limit && f.MinSeq > bottom}, err
}

// countPages counts the events q selects in pages, from the newest down
// to seq low, stopping past limit.
func (in *Inspector) countPages(ctx context.Context, q Query, limit int, low, bottom int64) (Count, error) {
	q.Cursor, q.Filter.Limit = "", 1000
	n := 0
	for {
		p, err := in.List(ctx, q)
		if err != nil {
			return Count{}, err
		}
		for _, ev := range p.Events {
			if ev.Seq >= low {
				n++
			}
		}
		next, _ := parseCursor(p.Next)
		switch {
		case n > limit:
			return Count{N: limit, More: true}, nil
		case p.Next == "":
			return Count{N: n}, nil
		case next <= low:
			return Count{N: n, Partial: low > bottom}, nil
		}
		q.Cursor = p.Next
	}
}

// Each calls fn with the ids of every event q selects (q.Cursor and the
// page size ignored), a chunk at a time, newest first, and sums what fn
// returns: bulk actions over a filter run through it.
func (in *Inspector) Each(ctx context.Context, q Query, fn func(ids []string) (int, error)) (int, error) {
	q.Cursor, q.Filter.Limit = "", 500
	return Walk(ctx, in.List, q, func(evs []store.Event) (int, error) {
		ids := make([]string, len(evs))
		for i, ev := range evs {
			ids[i] = ev.ID
		}
		return fn(ids)
	})
}

// Walk calls fn with each page list returns of the events q selects,
// from q.Cursor on, newest first, and sums what fn returns. Pages with
// no event (a bounded walk that found none) are passed over.
func Walk(ctx context.Context, list func(context.Context, Query) (Page, error), q Query, fn func([]store.Event) (int, error)) (int, error) {
	total := 0
	for {
		p, err := list(ctx, q)
		if err != nil {
			return total, err
		}
		if len(p.Events) > 0 {
			n, err := fn(p.Events)
			total += n
			if err != nil {
				return total, err
			}
		}
		if p.Next == "" {
			return total, nil
		}
		q.Cursor = p.Next
	}
}

// Find resolves each ref to its event (store.FindEvent), or fails naming
// the first that names none (an error wrapping store.ErrNotFound) or
// several (a *store.AmbiguousError).
func (in *Inspector) Find(ctx context.Context, refs []string) ([]*store.Event, error) {
	evs := make([]*store.Event, 0, len(refs))
	for _, ref := range refs {
		ev, err := store.FindEvent(ctx, in.store, ref)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// Timeline is one delivery with every attempt of its life, oldest first.
type Timeline struct {
	store.Delivery
	Attempts []store.Attempt `json:"attempts"`
	// Counted is how many of the attempts count against the delivery's
	// current budget, which restarts with each retry or replay: the
	// delivery's own attempts field, which the attempt list hides in JSON.
	Counted int `json:"attempts_counted"`
}

// Envelope is the parsed reading of an event's body.
type Envelope struct {
	Field       string                     `json:"field"`
	SubType     string                     `json:"sub_type,omitempty"`
	Family      string                     `json:"family"`
	Type        string                     `json:"type"`
	Known       bool                       `json:"known"`
	Status      string                     `json:"status,omitempty"`
	SubjectKind string                     `json:"subject_kind,omitempty"`
	Subject     string                     `json:"subject,omitempty"`
	Timestamp   time.Time                  `json:"timestamp,omitzero"`
	RequestID   string                     `json:"request_id,omitempty"`
	Payload     json.RawMessage            `json:"payload,omitempty"`
	Extra       map[string]json.RawMessage `json:"extra,omitempty"`
}

// Detail is everything known of one event.
type Detail struct {
	// Event has its body and, in DeliveryCounts, its deliveries counted by
	// status.
	Event *store.Event
	// Envelope is the body as read, or nil with EnvelopeError saying why
	// it could not be.
	Envelope      *Envelope
	EnvelopeError string
	// State sums up the deliveries (store.Event.DeliveryState).
	State      store.DeliveryStatus
	Deliveries []Timeline
	// FilteredOut names the destinations whose types take the event but
	// whose filter keeps it out, judged by the filters configured when
	// the detail is read; empty where they are not known.
	FilteredOut []string
}

// Event returns the detail of the one event ref names (see
// store.FindEvent for the names it takes).
func (in *Inspector) Event(ctx context.Context, ref string) (*Detail, error) {
	ev, err := store.FindEvent(ctx, in.store, ref)
	if err != nil {
		return nil, err
	}
	return in.Detail(ctx, ev)
}

// Detail returns the detail of ev, an event read with its body.
func (in *Inspector) Detail(ctx context.Context, ev *store.Event) (*Detail, error) {
	ds, err := in.store.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		return nil, err
	}
	d := &Detail{Event: ev, Deliveries: make([]Timeline, len(ds))}
	ev.DeliveryCounts = map[store.DeliveryStatus]int{}
	for i, dl := range ds {
		as, err := in.store.ListAttempts(ctx, dl.ID)
		if err != nil {
			return nil, fmt.Errorf("delivery %d: %w", dl.ID, err)
		}
		if as == nil {
			as = []store.Attempt{}
		}
		ev.DeliveryCounts[dl.Status]++
		d.Deliveries[i] = Timeline{dl, as, dl.Attempts}
	}
	d.State = ev.DeliveryState()
	env, err := event.Parse(ev.Body)
	if err != nil {
		d.EnvelopeError = err.Error()
		return d, nil
	}
	subject := env.Subject()
	d.Envelope = &Envelope{
		Field: env.Field, SubType: env.SubType, Family: env.Family(), Type: env.Type(), Known: env.Known(),
		Status: env.Status(), SubjectKind: subject.Kind, Subject: subject.ID,
		Timestamp: env.Timestamp, RequestID: env.RequestID, Payload: env.Payload, Extra: env.Extra,
	}
	return d, nil
}
