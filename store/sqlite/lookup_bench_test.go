package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// BenchmarkLookupsAtSize finds events by each kind of id and lists them
// by each filter a command or page offers, on a store grown once to
// HOOKLATCH_BENCH_EVENTS events (1,000,000 by default) and kept at
// HOOKLATCH_BENCH_STORE (by default in the system's temporary folder),
// reused by later runs: growing it takes a minute or two. Every read
// should cost about what it costs on a fresh store; compare each with
// "list/newest", the plain page:
//
//	go test -run '^$' -bench LookupsAtSize -benchtime 20x -timeout 30m ./store/sqlite
//
// The events are as real ingest leaves them: a message's sent, delivered
// and read events (9 in 10 events), a few failed, received, template and
// contact events, 1 in 100 from a second source, one delivery each (1 %
// dead, 1 % pending, the rest succeeded), 1 in 1,000 marked for
// attention, 2.5 s apart (a million in a month).
func BenchmarkLookupsAtSize(b *testing.B) {
	s, n := openLookupStore(b)

	mid := int64(n / 2)
	midID, midKey := benchEventID(mid), benchDedupeKey(mid)
	at := func(seq int64) time.Time { return benchReceivedAt(seq) }
	newest := math.MaxInt64
	finds := []struct{ name, ref string }{
		{"id", midID},
		{"short id", midID[len(midID)-8:]},
		{"sent id", strings.TrimPrefix(midKey, "event-id:")},
		{"dedupe key", midKey},
		{"sent id in second source", strings.TrimPrefix(benchDedupeKey(100), "event-id:")},
		{"unknown short id", "zzzzzzzz"},
	}
	for _, c := range finds {
		b.Run("find/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := store.FindEvent(context.Background(), s, c.ref); err != nil && c.name != "unknown short id" {
					b.Fatal(err)
				}
			}
		})
	}
	lists := []struct {
		name string
		f    store.EventFilter
	}{
		{"newest", store.EventFilter{BeforeSeq: int64(newest)}},
		{"type", store.EventFilter{Type: "message.read", BeforeSeq: int64(newest)}},
		{"type, older", store.EventFilter{Type: "message.read", BeforeSeq: mid}},
		{"message.*", store.EventFilter{Type: "message.*", BeforeSeq: int64(newest)}},
		{"message.*, older", store.EventFilter{Type: "message.*", BeforeSeq: mid}},
		{"message.*, after", store.EventFilter{Type: "message.*", AfterSeq: mid}},
		{"template.*", store.EventFilter{Type: "template.*", BeforeSeq: int64(newest)}},
		{"template.*, after", store.EventFilter{Type: "template.*", AfterSeq: mid}},
		{"contact.*, oldest", store.EventFilter{Type: "contact.*"}},
		{"no stored type", store.EventFilter{Type: "email.*", BeforeSeq: int64(newest)}},
		{"subject", store.EventFilter{Subject: benchSubject(mid), BeforeSeq: int64(newest)}},
		{"message.* and subject", store.EventFilter{Type: "message.*", Subject: benchSubject(mid), BeforeSeq: int64(newest)}},
		{"since last hour", store.EventFilter{Since: at(int64(n)).Add(-time.Hour), BeforeSeq: int64(newest)}},
		{"until a day ago", store.EventFilter{Until: at(int64(n)).Add(-24 * time.Hour), BeforeSeq: int64(newest)}},
		{"since until, middle", store.EventFilter{Since: at(mid), Until: at(mid).Add(time.Hour), BeforeSeq: int64(newest)}},
		{"dead", store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: int64(newest)}},
		{"pending", store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: int64(newest)}},
		{"succeeded", store.EventFilter{Delivery: store.DeliverySucceeded, BeforeSeq: int64(newest)}},
		{"none", store.EventFilter{Delivery: store.DeliveryNone, BeforeSeq: int64(newest)}},
		{"message.* and dead", store.EventFilter{Type: "message.*", Delivery: store.DeliveryDead, BeforeSeq: int64(newest)}},
		{"template.* and dead", store.EventFilter{Type: "template.*", Delivery: store.DeliveryDead, BeforeSeq: int64(newest)}},
		{"dead, older", store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: mid}},
		{"pending, older", store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: mid}},
		{"pending, after", store.EventFilter{Delivery: store.DeliveryPending, AfterSeq: mid}},
		{"message.* and pending", store.EventFilter{Type: "message.*", Delivery: store.DeliveryPending, BeforeSeq: int64(newest)}},
		{"attention", store.EventFilter{AttentionOnly: true, BeforeSeq: int64(newest)}},
		{"attention, older", store.EventFilter{AttentionOnly: true, BeforeSeq: mid}},
		{"message.* and attention", store.EventFilter{Type: "message.*", AttentionOnly: true, BeforeSeq: int64(newest)}},
	}
	for _, c := range lists {
		c.f.Limit = 50
		b.Run("list/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListEvents(context.Background(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The grown store's events, derived from their seq alone, so that a
// benchmark finds them again in a store grown by an earlier run.
func benchEventID(seq int64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seq))
	h := sha256.Sum256(b[:8])
	copy(b[8:], h[:8])
	return uuid.UUID(b).String()
}

func benchDedupeKey(seq int64) string { return fmt.Sprintf("event-id:evt_%d", seq) }

// benchDeliveryStatus is the status of an event's delivery: 1 in 100
// dead, 1 in 100 pending, the rest succeeded.
func benchDeliveryStatus(seq int64) store.DeliveryStatus {
	switch seq % 100 {
	case 7:
		return store.DeliveryDead
	case 8:
		return store.DeliveryPending
	}
	return store.DeliverySucceeded
}

// benchAttention marks 1 in 1,000 events for attention.
func benchAttention(seq int64) string {
	if seq%1000 == 13 {
		return "unknown type"
	}
	return ""
}

func benchSubject(seq int64) string { return fmt.Sprintf("msg_%d", seq/3) }

func benchSource(seq int64) string {
	if seq%100 == 0 {
		return "second"
	}
	return "sent"
}

func benchReceivedAt(seq int64) time.Time {
	return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * 2500 * time.Millisecond)
}

func benchType(seq int64) string {
	switch r := seq % 200; {
	case r == 0:
		return "template.approved"
	case r == 1:
		return "template.rejected"
	case r == 2:
		return "contact.opt_out"
	case r < 6:
		return "message.failed"
	case r < 12:
		return "message.received"
	}
	return [...]string{"message.sent", "message.delivered", "message.read"}[seq%3]
}

// growStore makes path a store of n events unless it already is one.
func growStore(path string, n int) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".growing"
	os.Remove(tmp)
	s, err := sqlite.Open(context.Background(), tmp, sqlite.Options{})
	if err != nil {
		return err
	}
	s.Close()
	db, err := sql.Open("sqlite", tmp)
	if err != nil {
		return err
	}
	defer db.Close()
	body := strings.Repeat("x", 600)
	const batch = 20_000
	for start := int64(1); start <= int64(n); start += batch {
		if err := growBatch(db, start, min(start+batch, int64(n)+1), body); err != nil {
			return fmt.Errorf("grow %s: %w", tmp, err)
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func growBatch(db *sql.DB, from, to int64, body string) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for seq := from; seq < to; seq++ {
		sum := sha256.Sum256([]byte(benchDedupeKey(seq)))
		if _, err := tx.Exec(`INSERT INTO events (seq, id, source, dedupe_key, field, type, subject_kind, subject, received_at, headers, body, body_sha256, attention)
VALUES (?, ?, ?, ?, 'message', ?, 'message_id', ?, ?, '{}', ?, ?, ?)`,
			seq, benchEventID(seq), benchSource(seq), benchDedupeKey(seq), benchType(seq), benchSubject(seq),
			benchReceivedAt(seq).UnixNano(), body, sum[:], benchAttention(seq)); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
VALUES (?, ?, 'app', ?, 0, 0, 0)`, seq, benchEventID(seq), benchDeliveryStatus(seq)); err != nil {
			return err
		}
	}
	return tx.Commit()
}
