package postgres

import (
	"context"
	"testing"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// A batch the server refuses is written again one append at a time: the
// one it refuses fails alone, and every other append is stored and
// answered as if it had been written alone (its event id and seq, or
// that it is a duplicate).
func TestRefusedBatchAnswersEachAppendAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openInternal(t)
	// The server refuses an event whose dedupe key is "bad".
	if _, err := s.pool.Exec(ctx, `ALTER TABLE events ADD CONSTRAINT refuse_bad CHECK (dedupe_key <> 'bad')`); err != nil {
		t.Fatal(err)
	}
	stored := storetest.NewEvent("sent", "k-stored")
	if _, err := s.Append(ctx, stored); err != nil {
		t.Fatal(err)
	}
	again := storetest.NewEvent("sent", "k-stored")
	evs := []*retried{
		{ev: storetest.NewEvent("sent", "k-a")},
		{ev: storetest.NewEvent("sent", "bad"), refused: true},
		{ev: again, duplicateOf: stored.ID},
		{ev: storetest.NewEvent("sent", "k-b")},
	}
	var batch []*appendReq
	for _, e := range evs {
		r, err := newAppendReq(e.ev)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, r)
	}
	s.commit(batch) // as the writer does, with the four in one batch
	for i, r := range batch {
		e := evs[i]
		switch {
		case e.refused:
			if r.err == nil {
				t.Errorf("append %d: stored, want refused", i)
			}
		case e.duplicateOf != "":
			if r.err != nil || !r.res.Duplicate || r.res.EventID != e.duplicateOf {
				t.Errorf("append %d: %+v, %v; want a duplicate of %s", i, r.res, r.err, e.duplicateOf)
			}
		default:
			if r.err != nil || r.res.Duplicate || r.res.EventID != e.ev.ID || r.res.Seq == 0 {
				t.Errorf("append %d: %+v, %v; want stored as %s", i, r.res, r.err, e.ev.ID)
			}
		}
	}
}

type retried struct {
	ev          *store.NewEvent
	refused     bool
	duplicateOf string
}
