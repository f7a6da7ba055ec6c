package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/store"
)

// subjectEvent returns an event of message subject reaching status at
// occurred, under a key of its own.
func subjectEvent(source, subject, status string, occurred time.Time) *store.NewEvent {
	ev := NewEvent(source, fmt.Sprintf("%s-%s-%d", subject, status, occurred.UnixNano()))
	ev.Subject, ev.Status, ev.OccurredAt = subject, status, occurred
	ev.Type = "message." + status
	return ev
}

func mustSubject(t *testing.T, s store.Store, source, subject string) *store.SubjectState {
	t.Helper()
	st, err := s.Subject(context.Background(), source, subject)
	if err != nil {
		t.Fatalf("Subject(%s, %s): %v", source, subject, err)
	}
	return st
}

// checkLatest checks that subject's latest state is ev's, with events
// events counted.
func checkLatest(t *testing.T, s store.Store, ev *store.NewEvent, events int64) {
	t.Helper()
	st := mustSubject(t, s, ev.Source, ev.Subject)
	want := store.SubjectState{Source: ev.Source, Kind: ev.SubjectKind, Subject: ev.Subject, Status: ev.Status,
		Rank: event.LifecycleRank(ev.SubjectKind, ev.Status), EventID: ev.ID, OccurredAt: ev.OccurredAt.UTC(),
		ReceivedAt: ev.ReceivedAt.UTC(), Events: events, UpdatedAt: ev.ReceivedAt.UTC()}
	if *st != want {
		t.Errorf("subject %s = %+v,\nwant %+v", ev.Subject, *st, want)
	}
}

// checkStale checks the rank and the stale flag every read returns for ev.
func checkStale(t *testing.T, s store.Store, ev *store.NewEvent, stale bool) {
	t.Helper()
	ctx := context.Background()
	rank := event.LifecycleRank(ev.SubjectKind, ev.Status)
	got, err := s.GetEvent(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Stale != stale || got.Rank != rank {
		t.Errorf("GetEvent(%s %s): stale %v rank %d, want stale %v rank %d", ev.Subject, ev.Status, got.Stale, got.Rank, stale, rank)
	}
	listed, err := s.ListEvents(ctx, store.EventFilter{Subject: ev.Subject, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		if l.ID == ev.ID && (l.Stale != stale || l.Rank != rank) {
			t.Errorf("ListEvents(%s %s): stale %v rank %d, want stale %v rank %d", ev.Subject, ev.Status, l.Stale, l.Rank, stale, rank)
		}
	}
}

// Out of order, a message's latest state is its highest-ranked status
// all the same, and each event says whether a later one came before it.
func testSubjectLatestState(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	t0 := time.Date(2025, 10, 31, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

	delivered := subjectEvent("sent", "m1", "DELIVERED", at(2))
	mustAppend(t, s, delivered)
	checkLatest(t, s, delivered, 1)
	checkStale(t, s, delivered, false)

	sent := subjectEvent("sent", "m1", "SENT", at(1))
	mustAppend(t, s, sent)
	checkLatest(t, s, delivered, 2)
	checkStale(t, s, sent, true)

	read := subjectEvent("sent", "m1", "READ", at(3))
	mustAppend(t, s, read)
	checkLatest(t, s, read, 3)
	checkStale(t, s, read, false)

	// A duplicate of the stale SENT, by key, changes nothing.
	again := *sent
	again.ID = NewEvent("sent", "x").ID
	if res := mustAppend(t, s, &again); !res.Duplicate {
		t.Fatal("the SENT again was not a duplicate")
	}
	checkLatest(t, s, read, 3)
	checkStale(t, s, sent, true)

	// The same subject in another source is another subject.
	other := subjectEvent("other", "m1", "QUEUED", at(0))
	mustAppend(t, s, other)
	checkLatest(t, s, other, 1)
	checkStale(t, s, other, false)
	checkLatest(t, s, read, 3)

	// No subject: no state, never stale.
	none := NewEvent("sent", "no-subject")
	none.SubjectKind, none.Subject = "", ""
	mustAppend(t, s, none)
	checkStale(t, s, none, false)
	if _, err := s.Subject(ctx, "sent", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subject of no subject: %v, want ErrNotFound", err)
	}
	if _, err := s.Subject(ctx, "sent", "m-unknown"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subject(m-unknown): %v, want ErrNotFound", err)
	}
}

// Ties: equal rank goes to the later occurred_at, then to the later
// receipt; an unknown status never hides a known one.
func testSubjectTies(t *testing.T, factory Factory) {
	s, _ := open(t, factory)
	t0 := time.Date(2025, 10, 31, 10, 0, 0, 0, time.UTC)

	failed := subjectEvent("sent", "m2", "FAILED", t0.Add(5*time.Minute))
	mustAppend(t, s, failed)
	read := subjectEvent("sent", "m2", "READ", t0.Add(4*time.Minute)) // an ending too, reached before
	mustAppend(t, s, read)
	checkLatest(t, s, failed, 2)
	checkStale(t, s, read, true)

	// The same status at the same time under another key: the later
	// receipt wins, and it is not stale.
	refired := subjectEvent("sent", "m2", "FAILED", t0.Add(5*time.Minute))
	refired.DedupeKey, refired.Body = "m2-refired", []byte(`{"refired":true}`)
	mustAppend(t, s, refired)
	checkLatest(t, s, refired, 3)
	checkStale(t, s, refired, false)

	unknown := subjectEvent("sent", "m2", "TELEPORTED", t0.Add(time.Hour))
	mustAppend(t, s, unknown)
	checkLatest(t, s, refired, 4)
	checkStale(t, s, unknown, true)

	// No occurred_at is earlier than any.
	queued := subjectEvent("sent", "m3", "QUEUED", t0)
	mustAppend(t, s, queued)
	undated := subjectEvent("sent", "m3", "QUEUED", time.Time{})
	mustAppend(t, s, undated)
	checkLatest(t, s, queued, 2)
	checkStale(t, s, undated, true)

	// A template's statuses all rank alike: time alone orders them.
	approved := subjectEvent("sent", "tpl-1", "APPROVED", t0.Add(2*time.Minute))
	approved.SubjectKind, approved.Type = "template_id", "template.approved"
	mustAppend(t, s, approved)
	pending := subjectEvent("sent", "tpl-1", "PENDING", t0.Add(time.Minute))
	pending.SubjectKind, pending.Type = "template_id", "template.pending"
	mustAppend(t, s, pending)
	checkLatest(t, s, approved, 2)
	checkStale(t, s, pending, true)
}

// A claimed delivery says whether its subject had a later state when it
// was claimed, and which.
func testSubjectClaims(t *testing.T, factory Factory) {
	s, _ := open(t, factory)
	t0 := time.Date(2025, 10, 31, 10, 0, 0, 0, time.UTC)
	sent := subjectEvent("sent", "m4", "SENT", t0)
	sent.Destinations = []string{"app"}
	mustAppend(t, s, sent)
	delivered := subjectEvent("sent", "m4", "DELIVERED", t0.Add(time.Minute))
	delivered.Destinations = []string{"app"}
	mustAppend(t, s, delivered)
	none := NewEvent("sent", "claims-no-subject")
	none.SubjectKind, none.Subject, none.Destinations = "", "", []string{"app"}
	mustAppend(t, s, none)

	claims := claim(t, s, "w", time.Now().Add(time.Minute), 10)
	if len(claims) != 3 {
		t.Fatalf("claimed %d, want 3", len(claims))
	}
	want := map[string]struct {
		stale  bool
		status string
	}{sent.ID: {true, "DELIVERED"}, delivered.ID: {false, "DELIVERED"}, none.ID: {false, ""}}
	for _, c := range claims {
		w := want[c.Event.ID]
		if c.Stale != w.stale || c.SubjectStatus != w.status {
			t.Errorf("claim of %s %q: stale %v subject status %q, want %v %q", c.Event.Subject, c.Event.Status,
				c.Stale, c.SubjectStatus, w.stale, w.status)
		}
	}
}

// Retention deletes a subject's state once it has pruned all its events,
// and counts those it has not.
func testSubjectRetention(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	p, ok := s.(pruner)
	if !ok {
		t.Skip("the store does not prune")
	}
	t0 := time.Date(2025, 10, 31, 10, 0, 0, 0, time.UTC)
	old := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Microsecond)
	gone := subjectEvent("sent", "m5", "SENT", t0)
	goneToo := subjectEvent("sent", "m5", "DELIVERED", t0.Add(time.Minute))
	halfGone := subjectEvent("sent", "m6", "SENT", t0)
	kept := subjectEvent("sent", "m6", "DELIVERED", t0.Add(time.Minute))
	kept.Destinations = []string{"app"} // pending: kept
	// m7's first event stays (pending) while its later, latest one goes:
	// the state and the count stay with the first.
	firstKept := subjectEvent("sent", "m7", "SENT", t0)
	firstKept.Destinations = []string{"app"}
	latestGone := subjectEvent("sent", "m7", "DELIVERED", t0.Add(time.Minute))
	for _, ev := range []*store.NewEvent{gone, goneToo, halfGone, kept, firstKept, latestGone} {
		ev.ReceivedAt = old
		mustAppend(t, s, ev)
	}
	mustAppend(t, s, NewEvent("sent", "newest")) // never pruned
	for range 10 {
		if n, _, err := p.Prune(ctx, time.Now().Add(-time.Hour), time.Time{}, old.Add(-time.Hour), 100); err != nil {
			t.Fatal(err)
		} else if n == 0 {
			break
		}
	}
	if _, err := s.GetEvent(ctx, gone.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old event was not pruned: %v", err)
	}
	if _, err := s.Subject(ctx, "sent", "m5"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subject(m5) with its events pruned: %v, want ErrNotFound", err)
	}
	checkLatest(t, s, kept, 1)
	if st := mustSubject(t, s, "sent", "m7"); st.Status != "DELIVERED" || st.Events != 1 {
		t.Errorf("m7 after its latest event was pruned: %s with %d events, want DELIVERED with 1", st.Status, st.Events)
	}
	// The subjects whose states outlived some of their events go on: a
	// new event of each is counted on the same state, and a stale one is
	// known to be.
	read := subjectEvent("sent", "m6", "READ", t0.Add(2*time.Minute))
	mustAppend(t, s, read)
	checkLatest(t, s, read, 2)
	late := subjectEvent("sent", "m7", "SENT", t0.Add(30*time.Second))
	mustAppend(t, s, late)
	checkStale(t, s, late, true)
	if st := mustSubject(t, s, "sent", "m7"); st.Status != "DELIVERED" || st.Events != 2 {
		t.Errorf("m7 after one more event: %s with %d events, want DELIVERED with 2", st.Status, st.Events)
	}
	// And a subject whose events were all pruned starts again.
	again := subjectEvent("sent", "m5", "READ", t0.Add(3*time.Minute))
	mustAppend(t, s, again)
	checkLatest(t, s, again, 1)
}

// SubjectTraffic is the goal, out of order under concurrency:
// messages × QUEUED, SENT, DELIVERED, READ (reached in that order), each
// message's statuses shuffled, appended by 64 writers across stores (one
// or several instances on the same data), some twice. Check with
// CheckSubjectTraffic.
type SubjectTraffic struct {
	Events []*store.NewEvent // each message's four, in no order
}

// NewSubjectTraffic returns the traffic of messages messages.
func NewSubjectTraffic(messages int) *SubjectTraffic {
	t0 := time.Date(2025, 10, 31, 10, 0, 0, 0, time.UTC)
	tr := &SubjectTraffic{}
	for m := range messages {
		for i, status := range []string{"QUEUED", "SENT", "DELIVERED", "READ"} {
			tr.Events = append(tr.Events, subjectEvent("sent", fmt.Sprintf("msg-%05d", m), status,
				t0.Add(time.Duration(m)*time.Second+time.Duration(i)*time.Millisecond)))
		}
	}
	return tr
}

// Append appends the traffic by 64 writers spread over stores, each
// message's statuses in a random order and one append in ten followed by
// a duplicate.
func (tr *SubjectTraffic) Append(t *testing.T, stores ...store.Store) {
	t.Helper()
	work := make([]*store.NewEvent, len(tr.Events))
	copy(work, tr.Events)
	rand.Shuffle(len(work), func(i, j int) { work[i], work[j] = work[j], work[i] })
	queue := make(chan *store.NewEvent, len(work))
	for _, ev := range work {
		queue <- ev
	}
	close(queue)
	var wg sync.WaitGroup
	for w := range 64 {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for ev := range queue {
				copy := *ev
				if _, err := s.Append(context.Background(), &copy); err != nil {
					t.Errorf("append: %v", err)
					return
				}
				if rand.IntN(10) == 0 {
					dup := *ev
					dup.ID = NewEvent("sent", "dup").ID
					if res, err := s.Append(context.Background(), &dup); err != nil || !res.Duplicate {
						t.Errorf("duplicate append: %+v, %v", res, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// Check checks every message's latest state (its READ, four events) and
// every event's stale flag: set exactly when an event of its subject
// stored before it (a lower seq) is after it.
func (tr *SubjectTraffic) Check(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	var stored []store.Event
	for after := int64(0); ; {
		page, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: after, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		stored, after = append(stored, page...), page[len(page)-1].Seq
	}
	if len(stored) != len(tr.Events) {
		t.Fatalf("stored %d events, want %d", len(stored), len(tr.Events))
	}
	latest := map[string]event.Position{}
	wrong := 0
	for _, ev := range stored { // in seq order
		pos := event.Position{Rank: event.LifecycleRank(ev.SubjectKind, ev.Status), OccurredAt: ev.OccurredAt, Received: ev.Seq}
		if ev.Rank != pos.Rank {
			t.Errorf("event %s %s: rank %d, want %d", ev.Subject, ev.Status, ev.Rank, pos.Rank)
		}
		l, seen := latest[ev.Subject]
		stale := seen && l.After(pos)
		if ev.Stale != stale {
			if wrong++; wrong <= 10 {
				t.Errorf("event %s %s (seq %d): stale %v, want %v", ev.Subject, ev.Status, ev.Seq, ev.Stale, stale)
			}
		}
		if !seen || pos.After(l) {
			latest[ev.Subject] = pos
		}
	}
	if wrong > 10 {
		t.Errorf("… %d events with a wrong stale flag in all", wrong)
	}
	wrong = 0
	for _, ev := range tr.Events {
		if ev.Status != "READ" {
			continue
		}
		st, err := s.Subject(ctx, "sent", ev.Subject)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != "READ" || st.EventID != ev.ID || st.Events != 4 {
			if wrong++; wrong <= 10 {
				t.Errorf("subject %s: %s by %s with %d events, want READ by %s with 4", ev.Subject, st.Status, st.EventID, st.Events, ev.ID)
			}
		}
	}
	if wrong > 10 {
		t.Errorf("… %d subjects wrong in all", wrong)
	}
}

func testSubjectsConcurrent(t *testing.T, factory Factory) {
	s, _ := open(t, factory)
	tr := NewSubjectTraffic(2000)
	tr.Append(t, s)
	tr.Check(t, s)
}
