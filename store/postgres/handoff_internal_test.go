package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// batchOf makes the append requests of evs, each to "fast", to commit as
// one batch, as the writer does.
func batchOf(t *testing.T, evs ...*store.NewEvent) []*appendReq {
	t.Helper()
	var batch []*appendReq
	for _, ev := range evs {
		ev.Destinations = []string{"fast"}
		r, err := newAppendReq(ev)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, r)
	}
	return batch
}

// Handed claims of one batch know their subjects' states without a read
// when the batch's latest event of a subject is its latest state, and
// with one when the stored state is later than all of the batch's.
func TestHandedClaimsOfABatchKnowTheirSubjectsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	p := storetest.NewPlaces(10, "fast")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	event := func(key, subject, status string) *store.NewEvent {
		ev := storetest.NewEvent("sent", key)
		ev.Subject, ev.Status = subject, status
		return ev
	}
	read2 := event("k-read-2", "m-2", "READ")
	read2.Destinations = []string{"fast"}
	if res, err := s.Append(ctx, read2); err != nil || !res.Handed {
		t.Fatalf("append: %+v, %v", res, err)
	}
	p.Handed(t, 1)

	type state struct {
		stale  bool
		status string
	}
	sent1, queued1, read1, sent2 := event("k-sent-1", "m-1", "SENT"), event("k-queued-1", "m-1", "QUEUED"),
		event("k-read-1", "m-1", "READ"), event("k-sent-2", "m-2", "SENT")
	want := map[string]state{
		sent1.ID:   {true, "READ"},  // a later state in its batch
		queued1.ID: {true, "READ"},  // likewise
		read1.ID:   {false, "READ"}, // the latest
		sent2.ID:   {true, "READ"},  // the stored state is later: read
	}
	batch := batchOf(t, sent1, queued1, read1, sent2)
	s.commit(batch)
	for _, r := range batch {
		if r.err != nil || !r.res.Handed {
			t.Fatalf("append %s: %+v, %v", r.ev.Status, r.res, r.err)
		}
	}
	for _, c := range p.Handed(t, 4) {
		w := want[c.Event.ID]
		if c.Stale != w.stale || c.SubjectStatus != w.status {
			t.Errorf("claim of %s %s: stale %v, subject status %q; want %v, %q", c.Event.Subject, c.Event.Status, c.Stale, c.SubjectStatus, w.stale, w.status)
		}
	}
}

// A batch the server refuses gives back every place it took; written
// again one append at a time, each append takes its place again, the one
// refused gives it back, and only the committed claims are handed over.
func TestRefusedBatchHandsOverWhatItStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	if _, err := s.pool.Exec(ctx, `ALTER TABLE events ADD CONSTRAINT refuse_bad CHECK (dedupe_key <> 'bad')`); err != nil {
		t.Fatal(err)
	}
	p := storetest.NewPlaces(10, "fast")
	s.ClaimOnAppend(p.Hook("me", time.Now()))
	batch := batchOf(t, storetest.NewEvent("sent", "k-a"), storetest.NewEvent("sent", "bad"), storetest.NewEvent("sent", "k-b"))
	s.commit(batch)
	claims := p.Handed(t, 2)
	if p.Free != 8 || p.Untaken != 4 {
		t.Errorf("free %d, given back %d; want 8 and 4 (the batch's 3, then the refused one's)", p.Free, p.Untaken)
	}
	for i, r := range batch {
		if refused := i == 1; (r.err != nil) != refused || r.res.Handed == refused {
			t.Errorf("append %d: %+v, %v", i, r.res, r.err)
		}
	}
	for _, c := range claims {
		if c.Event.ID != batch[0].ev.ID && c.Event.ID != batch[2].ev.ID {
			t.Errorf("handed a claim of %s", c.Event.ID)
		}
	}
}
