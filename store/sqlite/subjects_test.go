package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// subjectEvents are events of subject m-1 whose states arrive out of
// order (and one of m-2): the stored state, or an earlier event of the
// same run of appends, is later than some of them.
func subjectEvents() []*store.NewEvent {
	at := time.Date(2025, 10, 31, 10, 10, 42, 0, time.UTC)
	var evs []*store.NewEvent
	for i, e := range []struct {
		subject, status string
		occurred        time.Duration
	}{
		{"m-1", "SENT", 0},
		{"m-1", "QUEUED", 0},              // stale: SENT before it
		{"m-2", "SENT", 0},                // another subject's first
		{"m-1", "READ", 0},                // the latest
		{"m-1", "DELIVERED", time.Minute}, // stale: READ ranks higher
		{"m-1", "READ", -time.Minute},     // stale: the same rank, reached earlier
		{"m-1", "READ", time.Minute},      // the latest again
	} {
		ev := storetest.NewEvent("sent", "k-"+string(rune('a'+i)))
		ev.Subject, ev.Status, ev.OccurredAt = e.subject, e.status, at.Add(e.occurred)
		evs = append(evs, ev)
	}
	return evs
}

// subjectRecord is what a store kept of subjectEvents: each event's stale
// flag, and its subjects' states, the event that set each named by its
// place in subjectEvents.
type subjectRecord struct {
	stale    []bool
	subjects []store.SubjectState
}

func recordOf(t *testing.T, s *Store, evs []*store.NewEvent) subjectRecord {
	t.Helper()
	ctx := context.Background()
	var rec subjectRecord
	rows, err := s.readDB.QueryContext(ctx, `SELECT stale FROM events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var stale bool
		if err := rows.Scan(&stale); err != nil {
			t.Fatal(err)
		}
		rec.stale = append(rec.stale, stale)
	}
	for _, subject := range []string{"m-1", "m-2"} {
		st, err := s.Subject(ctx, "sent", subject)
		if err != nil {
			t.Fatal(subject, err)
		}
		st.UpdatedAt, st.ReceivedAt = time.Time{}, time.Time{}
		for i, ev := range evs {
			if ev.ID == st.EventID {
				st.EventID = fmt.Sprint(i)
			}
		}
		rec.subjects = append(rec.subjects, *st)
	}
	return rec
}

// A run of appends records its subjects' states after its events, in
// multi-row statements: its events' stale flags and states are those of
// the same events appended one transaction each, whether the state that
// is later was stored before the run or is an event of the run. A batch
// that fails is rolled back and retried one write at a time: nothing of
// the failed run is left counted, and each append answers as if alone.
func TestRunRecordsSubjectsAsOneByOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want := []bool{false, true, false, false, true, true, false}
	open := func(t *testing.T) *Store {
		s, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	run := func(s *Store, writes []*writeReq) {
		for _, r := range writes {
			r.done = make(chan struct{})
		}
		// As the writer does: it is not running one now, as no write was
		// queued.
		s.commit(writes)
	}
	appends := func(evs []*store.NewEvent) []*writeReq {
		var rs []*writeReq
		for _, ev := range evs {
			rs = append(rs, newAppend(ev))
		}
		return rs
	}

	one, evs := open(t), subjectEvents()
	for _, ev := range evs {
		if _, err := one.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	byOne := recordOf(t, one, evs)
	if got := byOne.stale; !equal(got, want) {
		t.Fatalf("one by one: stale %v, want %v", got, want)
	}
	if st := byOne.subjects[0]; st.Status != "READ" || st.Events != 6 || st.EventID != "6" {
		t.Fatalf("one by one: m-1 = %+v", st)
	}

	for name, batches := range map[string]func([]*writeReq) [][]*writeReq{
		"one run": func(rs []*writeReq) [][]*writeReq { return [][]*writeReq{rs} },
		// The first event stored before the run: the run's first is stale
		// by the stored state.
		"after a stored state": func(rs []*writeReq) [][]*writeReq { return [][]*writeReq{rs[:1], rs[1:]} },
		// Over the chunk sizes: a chunk's events are compared with the
		// states the chunks before it recorded.
		"runs of 3 and 4": func(rs []*writeReq) [][]*writeReq { return [][]*writeReq{rs[:3], rs[3:]} },
		"rolled back and retried": func(rs []*writeReq) [][]*writeReq {
			failing := &writeReq{fn: func(context.Context, *sql.Tx) error { return errors.New("no") }}
			return [][]*writeReq{append(append(rs[:4:4], failing), rs[4:]...)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, evs := open(t), subjectEvents()
			rs := appends(evs)
			for _, b := range batches(rs) {
				run(s, b)
			}
			for i, r := range rs {
				if r.err != nil || r.res.EventID != evs[i].ID || r.res.Seq == 0 {
					t.Errorf("append %d: %+v, %v", i, r.res, r.err)
				}
			}
			if got := recordOf(t, s, evs); !equal(got.stale, byOne.stale) || !equal(got.subjects, byOne.subjects) {
				t.Errorf("got %+v\nwant %+v", got, byOne)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
