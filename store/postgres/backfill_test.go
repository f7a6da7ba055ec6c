package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// The events a schema kept before it kept subjects' states get theirs in
// the background (BackfillSubjects), as the append would have given them;
// migration 0013 finds them. Two instances take turns; one that arrived
// after the upgrade but before the backfill is counted with them.
func TestBackfillSubjectsOfOlderEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	s := open(t, u, postgres.Options{})
	// Events as a build before subjects stored them: no rank, no state;
	// then migration 0013's script, as on that schema.
	_, err := s.Pool().Exec(ctx, `
INSERT INTO events (id, source, dedupe_key, subject_kind, subject, status, occurred_at, received_at, body, body_sha256) VALUES
  ('e1', 'sent', 'k1', 'message_id', 'm1', 'DELIVERED', to_timestamp(20), to_timestamp(1), '', '\x01'),
  ('e2', 'sent', 'k2', 'message_id', 'm1', 'SENT', to_timestamp(10), to_timestamp(2), '', '\x02'),
  ('e3', 'sent', 'k3', '', '', '', NULL, to_timestamp(3), '', '\x03'),
  ('e4', 'sent', 'k4', 'message_id', 'm2', 'READ', to_timestamp(30), to_timestamp(4), '', '\x04'),
  ('e5', 'sent', 'k5', 'message_id', 'm1', 'QUEUED', NULL, to_timestamp(5), '', '\x05')`)
	if err != nil {
		t.Fatal(err)
	}
	migration, err := os.ReadFile("migrations/0013_subjects_backfill.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Pool().Exec(ctx, string(migration))
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	s = open(t, u, postgres.Options{})
	other := open(t, u, postgres.Options{})
	if _, err := s.Subject(ctx, "sent", "m2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Subject(m2) before the backfill: %v, want not found", err)
	}
	read := storetest.NewEvent("sent", "after")
	read.SubjectKind, read.Subject, read.Status, read.OccurredAt = "message_id", "m1", "READ", time.Unix(40, 0)
	if _, err := s.Append(ctx, read); err != nil {
		t.Fatal(err)
	}
	var seqs int64
	var calls int
	for done := false; !done; calls++ {
		if calls == 20 {
			t.Fatal("the backfill never ended")
		}
		instance := []*postgres.Store{s, other}[calls%2]
		if _, done, err = instance.BackfillSubjects(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Pool().QueryRow(ctx, `SELECT MAX(seq) FROM events WHERE id = 'e5'`).Scan(&seqs); err != nil {
		t.Fatal(err)
	}
	if want := int((seqs + 1) / 2); calls < want || calls > want+1 {
		t.Errorf("backfilled up to seq %d two at a time in %d calls, want about %d", seqs, calls, want)
	}
	for _, want := range []struct {
		subject, status, eventID string
		events                   int64
	}{{"m1", "READ", read.ID, 4}, {"m2", "READ", "e4", 1}} {
		st, err := s.Subject(ctx, "sent", want.subject)
		if err != nil {
			t.Fatalf("Subject(%s): %v", want.subject, err)
		}
		if st.Status != want.status || st.EventID != want.eventID || st.Events != want.events {
			t.Errorf("Subject(%s) = %s by %s with %d events, want %s by %s with %d", want.subject, st.Status, st.EventID, st.Events,
				want.status, want.eventID, want.events)
		}
	}
	for id, stale := range map[string]bool{"e1": false, "e2": true, "e4": false, "e5": true} {
		ev, err := s.GetEvent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Stale != stale || ev.Rank == 0 {
			t.Errorf("%s (%s): stale %v rank %d, want stale %v and a rank", id, ev.Status, ev.Stale, ev.Rank, stale)
		}
	}
	for _, instance := range []*postgres.Store{s, other} {
		if n, done, err := instance.BackfillSubjects(ctx, 2); n != 0 || !done || err != nil {
			t.Errorf("BackfillSubjects once done = %d, %v, %v; want 0, done", n, done, err)
		}
	}
}
