package sqlite_test

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// BenchmarkListEvents lists a page of events from a store of 200,000, one
// delivery each (1% dead, 1% pending, the rest succeeded), by each filter
// a command offers, and reads Stats. Compare each with "newest", the plain
// page:
//
//	go test -run '^$' -bench ListEvents -benchtime 20x ./store/sqlite
func BenchmarkListEvents(b *testing.B) {
	const events = 200_000
	path := filepath.Join(b.TempDir(), "list.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("x", 800)
	var someID string
	for i := 1; i <= events; i++ {
		id := uuid.Must(uuid.NewV7()).String()
		if i == events/2 {
			someID = id
		}
		status := benchDeliveryStatus(int64(i))
		if _, err := tx.Exec(`INSERT INTO events (seq, id, source, dedupe_key, type, subject, received_at, headers, body)
VALUES (?, ?, 'sent', ?, 'message.delivered', ?, 1, '{}', ?)`, i, id, "event-id:"+uuid.NewString(), uuid.NewString(), body); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
VALUES (?, ?, 'app', ?, 0, 0, 0)`, i, id, status); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	db.Close()
	s, err = sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	newest := store.EventFilter{BeforeSeq: math.MaxInt64, Limit: 50}
	for _, c := range []struct {
		name string
		f    store.EventFilter
	}{
		{"newest", newest},
		{"dead", store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: math.MaxInt64, Limit: 50}},
		{"pending", store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64, Limit: 50}},
		{"succeeded", store.EventFilter{Delivery: store.DeliverySucceeded, BeforeSeq: math.MaxInt64, Limit: 50}},
		{"short id", store.EventFilter{IDSuffix: someID[len(someID)-8:], BeforeSeq: math.MaxInt64, Limit: 6}},
		{"sent id", store.EventFilter{DedupeKeys: []string{"event-id:evt_none", "id:evt_none"}, BeforeSeq: math.MaxInt64, Limit: 6}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListEvents(context.Background(), c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stats(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
