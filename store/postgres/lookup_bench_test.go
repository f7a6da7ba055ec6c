package postgres_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// BenchmarkLookupsAtSize finds events by each kind of id and lists them
// by each filter a command or page offers, on a store grown once to
// HOOKLATCH_BENCH_EVENTS events (1,000,000 by default) in the schema
// HOOKLATCH_BENCH_SCHEMA (bench_lookups_N by default), kept on the server
// and reused by later runs. Every read should cost about what it costs on
// a fresh store; compare each with "list/newest", the plain page:
//
//	go test -run '^$' -bench LookupsAtSize -benchtime 20x -timeout 30m ./store/postgres
//
// The events are those of the SQLite benchmark of the same name: a
// message's sent, delivered and read events (9 in 10), a few failed,
// received, template and contact events, 1 in 100 from a second source,
// one delivery each (1 % dead, 1 % pending, the rest succeeded), 1 in
// 1,000 marked for attention, 2.5 s apart. The store is analyzed once grown.
func BenchmarkLookupsAtSize(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if v := os.Getenv("HOOKLATCH_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("HOOKLATCH_BENCH_EVENTS=%q: want a number of events", v)
		}
	}
	schema := os.Getenv("HOOKLATCH_BENCH_SCHEMA")
	if schema == "" {
		schema = fmt.Sprintf("bench_lookups_%d", n)
	}
	s, err := postgres.Open(ctx, pgtest.WithSchema(b, pgtest.ServerURL(b), schema), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	mid := int64(n / 2)
	if evs, err := s.ListEvents(ctx, store.EventFilter{Limit: 1}); err != nil {
		b.Fatal(err)
	} else if len(evs) == 0 {
		if err := growPostgres(ctx, pgtest.ServerURL(b), schema, n); err != nil {
			b.Fatal(err)
		}
	}
	midEvent, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: mid - 1, Limit: 1})
	if err != nil || len(midEvent) != 1 {
		b.Fatalf("the middle event: %v, %v", midEvent, err)
	}
	second, err := s.ListEvents(ctx, store.EventFilter{AfterSeq: 99, Limit: 1})
	if err != nil || len(second) != 1 {
		b.Fatalf("an event of the second source: %v, %v", second, err)
	}
	last, err := s.ListEvents(ctx, store.EventFilter{BeforeSeq: math.MaxInt64, Limit: 1})
	if err != nil || len(last) != 1 {
		b.Fatalf("the newest event: %v, %v", last, err)
	}
	midID, midKey, midAt, lastAt := midEvent[0].ID, midEvent[0].DedupeKey, midEvent[0].ReceivedAt, last[0].ReceivedAt

	for _, c := range []struct{ name, ref string }{
		{"id", midID},
		{"short id", midID[len(midID)-8:]},
		{"sent id", strings.TrimPrefix(midKey, "event-id:")},
		{"dedupe key", midKey},
		{"sent id in second source", strings.TrimPrefix(second[0].DedupeKey, "event-id:")},
		{"unknown short id", "zzzzzzzz"},
	} {
		b.Run("find/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := store.FindEvent(ctx, s, c.ref); err != nil && c.name != "unknown short id" {
					b.Fatal(err)
				}
			}
		})
	}
	newest := int64(math.MaxInt64)
	for _, c := range []struct {
		name string
		f    store.EventFilter
	}{
		{"newest", store.EventFilter{BeforeSeq: newest}},
		{"type", store.EventFilter{Type: "message.read", BeforeSeq: newest}},
		{"type, older", store.EventFilter{Type: "message.read", BeforeSeq: mid}},
		{"message.*", store.EventFilter{Type: "message.*", BeforeSeq: newest}},
		{"message.*, older", store.EventFilter{Type: "message.*", BeforeSeq: mid}},
		{"message.*, after", store.EventFilter{Type: "message.*", AfterSeq: mid}},
		{"template.*", store.EventFilter{Type: "template.*", BeforeSeq: newest}},
		{"template.*, after", store.EventFilter{Type: "template.*", AfterSeq: mid}},
		{"contact.*, oldest", store.EventFilter{Type: "contact.*"}},
		{"no stored type", store.EventFilter{Type: "email.*", BeforeSeq: newest}},
		{"subject", store.EventFilter{Subject: midEvent[0].Subject, BeforeSeq: newest}},
		{"message.* and subject", store.EventFilter{Type: "message.*", Subject: midEvent[0].Subject, BeforeSeq: newest}},
		{"since last hour", store.EventFilter{Since: lastAt.Add(-time.Hour), BeforeSeq: newest}},
		{"until a day ago", store.EventFilter{Until: lastAt.Add(-24 * time.Hour), BeforeSeq: newest}},
		{"since until, middle", store.EventFilter{Since: midAt, Until: midAt.Add(time.Hour), BeforeSeq: newest}},
		{"dead", store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: newest}},
		{"pending", store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: newest}},
		{"succeeded", store.EventFilter{Delivery: store.DeliverySucceeded, BeforeSeq: newest}},
		{"none", store.EventFilter{Delivery: store.DeliveryNone, BeforeSeq: newest}},
		{"message.* and dead", store.EventFilter{Type: "message.*", Delivery: store.DeliveryDead, BeforeSeq: newest}},
		{"template.* and dead", store.EventFilter{Type: "template.*", Delivery: store.DeliveryDead, BeforeSeq: newest}},
		{"dead, older", store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: mid}},
		{"pending, older", store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: mid}},
		{"pending, after", store.EventFilter{Delivery: store.DeliveryPending, AfterSeq: mid}},
		{"message.* and pending", store.EventFilter{Type: "message.*", Delivery: store.DeliveryPending, BeforeSeq: newest}},
		{"attention", store.EventFilter{AttentionOnly: true, BeforeSeq: newest}},
		{"attention, older", store.EventFilter{AttentionOnly: true, BeforeSeq: mid}},
		{"message.* and attention", store.EventFilter{Type: "message.*", AttentionOnly: true, BeforeSeq: newest}},
	} {
		c.f.Limit = 50
		b.Run("list/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListEvents(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// growPostgres fills s with n events and their deliveries, as described
// at BenchmarkLookupsAtSize, and analyzes them. It goes through SQL, a
// few statements in all: appending a million events one by one would
// take most of an hour.
func growPostgres(ctx context.Context, server, schema string, n int) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`SET search_path TO ` + pgx.Identifier{schema}.Sanitize(),
		`INSERT INTO events (id, source, dedupe_key, field, type, subject_kind, subject, received_at, headers, body, body_sha256, attention)
SELECT md5(i::text)::uuid::text, CASE WHEN i % 100 = 0 THEN 'second' ELSE 'sent' END, 'event-id:evt_' || i, 'message',
       CASE WHEN i % 200 = 0 THEN 'template.approved' WHEN i % 200 = 1 THEN 'template.rejected'
            WHEN i % 200 = 2 THEN 'contact.opt_out' WHEN i % 200 < 6 THEN 'message.failed'
            WHEN i % 200 < 12 THEN 'message.received'
            ELSE (ARRAY['message.sent', 'message.delivered', 'message.read'])[1 + i % 3] END,
       'message_id', 'msg_' || (i / 3), timestamptz '2026-01-01 00:00:00Z' + i * interval '2.5 seconds', '{}',
       convert_to(repeat('x', 600), 'UTF8'), sha256(i::text::bytea), CASE WHEN i % 1000 = 13 THEN 'unknown type' ELSE '' END
FROM generate_series(1, $1::bigint) i ORDER BY i`,
		`INSERT INTO deliveries (event_seq, event_id, destination, status, next_attempt_at, created_at, updated_at)
SELECT seq, id, 'app', CASE seq % 100 WHEN 7 THEN 'dead' WHEN 8 THEN 'pending' ELSE 'succeeded' END, now(), now(), now()
FROM events`,
		`ANALYZE`,
	} {
		args := []any{n}
		if !strings.Contains(q, "$1") {
			args = nil
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("grow the store: %w", err)
		}
	}
	return nil
}
