// Package storetest is the conformance suite every store.Store backend
// passes unchanged. A backend's test calls Run with a function that gives
// each subtest a fresh, empty location and a way to open it (again).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/store"
)

// Opener opens the store at one location. Calling it again after Close
// opens the same data: that is how durability is checked.
type Opener func(t *testing.T) store.Store

// Factory returns an Opener for a fresh, empty location.
type Factory func(t *testing.T) Opener

// Run runs the whole suite.
func Run(t *testing.T, factory Factory) {
	t.Run("AppendAndGet", func(t *testing.T) { t.Parallel(); testAppendAndGet(t, factory) })
	t.Run("Duplicate", func(t *testing.T) { t.Parallel(); testDuplicate(t, factory) })
	t.Run("DuplicateBody", func(t *testing.T) { t.Parallel(); testDuplicateBody(t, factory) })
	t.Run("ConcurrentIdempotent", func(t *testing.T) { t.Parallel(); testConcurrentIdempotent(t, factory) })
	t.Run("DurableAcrossReopen", func(t *testing.T) { t.Parallel(); testDurableAcrossReopen(t, factory) })
	t.Run("ListOrderAndFilters", func(t *testing.T) { t.Parallel(); testListOrderAndFilters(t, factory) })
	t.Run("CountEvents", func(t *testing.T) { t.Parallel(); testCountEvents(t, factory) })
	t.Run("SeqReceivedSince", func(t *testing.T) { t.Parallel(); testSeqReceivedSince(t, factory) })
	t.Run("FindEvent", func(t *testing.T) { t.Parallel(); testFindEvent(t, factory) })
	t.Run("EventDeliveryStates", func(t *testing.T) { t.Parallel(); testEventDeliveryStates(t, factory) })
	t.Run("AttentionOnly", func(t *testing.T) { t.Parallel(); testAttentionOnly(t, factory) })
	t.Run("RejectionLimits", func(t *testing.T) { t.Parallel(); testRejectionLimits(t, factory) })
	t.Run("RejectionRelease", func(t *testing.T) { t.Parallel(); testRejectionRelease(t, factory) })
	t.Run("RejectionSamplesPerReason", func(t *testing.T) { t.Parallel(); testRejectionSamplesPerReason(t, factory) })
	t.Run("RejectionCounts", func(t *testing.T) { t.Parallel(); testRejectionCounts(t, factory) })
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, factory) })
	t.Run("Closed", func(t *testing.T) { t.Parallel(); testClosed(t, factory) })
	t.Run("DeliveriesCreatedWithEvent", func(t *testing.T) { t.Parallel(); testDeliveriesCreated(t, factory) })
	t.Run("ClaimCompleteRetry", func(t *testing.T) { t.Parallel(); testClaimCompleteRetry(t, factory) })
	t.Run("LeaseExpiry", func(t *testing.T) { t.Parallel(); testLeaseExpiry(t, factory) })
	t.Run("ClaimConcurrentOnce", func(t *testing.T) { t.Parallel(); testClaimConcurrentOnce(t, factory) })
	t.Run("ClaimConcurrencyBound", func(t *testing.T) { t.Parallel(); testClaimConcurrencyBound(t, factory) })
	t.Run("RequeueAndDiscard", func(t *testing.T) { t.Parallel(); testRequeueAndDiscard(t, factory) })
	t.Run("AddDeliveries", func(t *testing.T) { t.Parallel(); testAddDeliveries(t, factory) })
	t.Run("Routes", func(t *testing.T) { t.Parallel(); testRoutes(t, factory) })
	t.Run("AttemptsNumberedForLife", func(t *testing.T) { t.Parallel(); testAttemptsNumberedForLife(t, factory) })
	t.Run("StatsAfterMixedWorkload", func(t *testing.T) { t.Parallel(); testStatsAfterMixedWorkload(t, factory) })
	t.Run("CreationContext", func(t *testing.T) { t.Parallel(); testCreationContext(t, factory) })
	t.Run("Minutes", func(t *testing.T) { t.Parallel(); testMinutes(t, factory) })
	t.Run("SubjectLatestState", func(t *testing.T) { t.Parallel(); testSubjectLatestState(t, factory) })
	t.Run("SubjectTies", func(t *testing.T) { t.Parallel(); testSubjectTies(t, factory) })
	t.Run("SubjectClaims", func(t *testing.T) { t.Parallel(); testSubjectClaims(t, factory) })
	t.Run("SubjectRetention", func(t *testing.T) { t.Parallel(); testSubjectRetention(t, factory) })
	t.Run("SubjectsConcurrent", func(t *testing.T) { t.Parallel(); testSubjectsConcurrent(t, factory) })
	t.Run("PauseHoldsAcrossReopen", func(t *testing.T) { t.Parallel(); testPauseHoldsAcrossReopen(t, factory) })
	t.Run("HandOff", func(t *testing.T) { t.Parallel(); testHandOff(t, factory) })
	t.Run("HandOffSubjects", func(t *testing.T) { t.Parallel(); testHandOffSubjects(t, factory) })
	RunOrder(t, factory)
}

// NewEvent returns a plausible event with a fresh id and the given dedupe key.
func NewEvent(source, dedupeKey string) *store.NewEvent {
	id := uuid.Must(uuid.NewV7()).String()
	return &store.NewEvent{EventData: store.EventData{
		ID:          id,
		Source:      source,
		DedupeKey:   dedupeKey,
		Field:       "message",
		Type:        "message.delivered",
		SubjectKind: "message_id",
		Subject:     "msg-" + dedupeKey,
		Status:      "DELIVERED",
		OccurredAt:  time.Date(2025, 10, 31, 10, 10, 42, 0, time.UTC),
		ReceivedAt:  time.Now().UTC().Truncate(time.Microsecond),
		Scheme:      "v1",
		Headers:     map[string]string{"x-webhook-id": "d4f5a6b7", "content-type": "application/json"},
		Body:        []byte(`{"field":"message","key":"` + dedupeKey + `"}`),
	}}
}

func open(t *testing.T, factory Factory) (store.Store, Opener) {
	t.Helper()
	opener := factory(t)
	s := opener(t)
	t.Cleanup(func() { s.Close() })
	return s, opener
}

func mustAppend(t *testing.T, s store.Store, ev *store.NewEvent) store.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), ev)
	if err != nil {
		t.Fatalf("Append(%s): %v", ev.DedupeKey, err)
	}
	return res
}

func testAppendAndGet(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	ev := NewEvent("sent", "k1")
	ev.Attention = "unknown type: call.ringing"
	ev.Body = []byte("{\"a\":\"\u00e9\\u00e9\"}\r\n\x00binary")
	given := *ev
	res := mustAppend(t, s, ev)
	if res.Duplicate {
		t.Fatal("first append reported as duplicate")
	}
	if res.EventID != ev.ID || res.Seq <= 0 {
		t.Fatalf("result = %+v, event id %s", res, ev.ID)
	}
	if !reflect.DeepEqual(*ev, given) {
		t.Fatalf("Append changed its argument: %+v, was %+v", *ev, given)
	}

	got, err := s.GetEvent(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, ev.Body) {
		t.Errorf("body = %q, want %q", got.Body, ev.Body)
	}
	checks := []struct{ name, got, want string }{
		{"source", got.Source, ev.Source},
		{"dedupe_key", got.DedupeKey, ev.DedupeKey},
		{"field", got.Field, ev.Field},
		{"type", got.Type, ev.Type},
		{"subject_kind", got.SubjectKind, ev.SubjectKind},
		{"subject", got.Subject, ev.Subject},
		{"status", got.Status, ev.Status},
		{"scheme", got.Scheme, ev.Scheme},
		{"attention", got.Attention, ev.Attention},
		{"header", got.Headers["x-webhook-id"], "d4f5a6b7"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !got.OccurredAt.Equal(ev.OccurredAt) || !got.ReceivedAt.Equal(ev.ReceivedAt) {
		t.Errorf("times = %v/%v, want %v/%v", got.OccurredAt, got.ReceivedAt, ev.OccurredAt, ev.ReceivedAt)
	}
}

func testDuplicate(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	first := mustAppend(t, s, NewEvent("sent", "dup"))
	for i := range 3 {
		again := NewEvent("sent", "dup")
		res := mustAppend(t, s, again)
		if !res.Duplicate || res.EventID != first.EventID || res.Seq != first.Seq {
			t.Fatalf("append %d of the same key = %+v, want duplicate of %+v", i+2, res, first)
		}
		if _, err := s.GetEvent(ctx, again.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("duplicate's own id was stored: err = %v", err)
		}
	}
	// The same key from another source is another event.
	other := mustAppend(t, s, NewEvent("other", "dup"))
	if other.Duplicate {
		t.Fatal("same key from another source reported as duplicate")
	}
	got, err := s.GetEvent(ctx, first.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Duplicates != 3 {
		t.Errorf("duplicates = %d, want 3", got.Duplicates)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 2 || st.Duplicates != 3 {
		t.Errorf("stats = %+v, want 2 events, 3 duplicates", st)
	}
}

// testDuplicateBody: the signed bytes dedupe on their own, whatever key the
// headers give; per source, like the key.
func testDuplicateBody(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, opener := open(t, factory)

	first := NewEvent("sent", "event-id:evt_1")
	mustAppend(t, s, first)
	for i, key := range []string{"event-id:evt_forged", "id:other", "sha256:whatever"} {
		replay := NewEvent("sent", key)
		replay.Body = first.Body
		res := mustAppend(t, s, replay)
		if !res.Duplicate || res.EventID != first.ID {
			t.Fatalf("replay %d of the body under key %s = %+v, want a duplicate of %s", i+1, key, res, first.ID)
		}
		if _, err := s.GetEvent(ctx, replay.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("replayed body was stored as event %s: err = %v", replay.ID, err)
		}
	}
	// Another source may carry the same bytes.
	other := NewEvent("other", "event-id:evt_1")
	other.Body = first.Body
	if res := mustAppend(t, s, other); res.Duplicate {
		t.Fatal("same body from another source reported as duplicate")
	}
	// A request matching one event by key and another by body is a
	// duplicate of the older one.
	second := mustAppend(t, s, NewEvent("sent", "event-id:evt_2"))
	both := NewEvent("sent", "event-id:evt_2")
	both.Body = first.Body
	if res := mustAppend(t, s, both); !res.Duplicate || res.EventID != first.ID {
		t.Fatalf("append matching %s by body and %s by key = %+v, want a duplicate of the first", first.ID, second.EventID, res)
	}
	got, err := s.GetEvent(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Duplicates != 4 {
		t.Errorf("first event's duplicates = %d, want 4", got.Duplicates)
	}
	// The rule holds across a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = opener(t)
	defer s.Close()
	late := NewEvent("sent", "event-id:evt_late")
	late.Body = first.Body
	if res := mustAppend(t, s, late); !res.Duplicate || res.EventID != first.ID {
		t.Fatalf("replay after reopen = %+v, want a duplicate of %s", res, first.ID)
	}
}

func testConcurrentIdempotent(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	const keys, writers = 40, 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh = map[string]int{}
		ids   = map[string]map[string]bool{}
	)
	for w := range writers {
		wg.Go(func() {
			for k := range keys {
				key := fmt.Sprintf("k%03d", (k+w)%keys)
				res, err := s.Append(ctx, NewEvent("sent", key))
				if err != nil {
					t.Errorf("append %s: %v", key, err)
					return
				}
				mu.Lock()
				if !res.Duplicate {
					fresh[key]++
				}
				if ids[key] == nil {
					ids[key] = map[string]bool{}
				}
				ids[key][res.EventID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for k := range keys {
		key := fmt.Sprintf("k%03d", k)
		if fresh[key] != 1 {
			t.Errorf("key %s accepted as new %d times, want 1", key, fresh[key])
		}
		if len(ids[key]) != 1 {
			t.Errorf("key %s answered with %d different event ids", key, len(ids[key]))
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != keys || st.Duplicates != keys*(writers-1) {
		t.Errorf("stats = %+v, want %d events and %d duplicates", st, keys, keys*(writers-1))
	}
}

func testDurableAcrossReopen(t *testing.T, factory Factory) {
	ctx := context.Background()
	opener := factory(t)
	s := opener(t)

	// Appends racing with Close: each one that returned without error must
	// be there after reopening.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked []store.AppendResult
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				res, err := s.Append(ctx, NewEvent("sent", fmt.Sprintf("w%d-%d", w, i)))
				if err != nil {
					if !errors.Is(err, store.ErrClosed) && !errors.Is(err, store.ErrBusy) {
						t.Errorf("append: %v", err)
					}
					return
				}
				mu.Lock()
				acked = append(acked, res)
				mu.Unlock()
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	s = opener(t)
	defer s.Close()
	for _, res := range acked {
		ev, err := s.GetEvent(ctx, res.EventID)
		if err != nil {
			t.Fatalf("acknowledged event %s missing after reopen: %v", res.EventID, err)
		}
		if ev.Seq != res.Seq {
			t.Errorf("event %s seq = %d after reopen, was %d", ev.ID, ev.Seq, res.Seq)
		}
	}
	// A key acknowledged before the reopen is still a duplicate after it.
	first, err := s.GetEvent(ctx, acked[0].EventID)
	if err != nil {
		t.Fatal(err)
	}
	res := mustAppend(t, s, NewEvent("sent", first.DedupeKey))
	if !res.Duplicate || res.EventID != first.ID {
		t.Errorf("re-append after reopen = %+v, want duplicate of %s", res, first.ID)
	}
}

func testListOrderAndFilters(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	types := []string{"message.sent", "message.delivered", "template.approved", "contact.opt_out"}
	var all []*store.Event
	for i := range 20 {
		source := "sent"
		if i%3 == 0 {
			source = "payments"
		}
		ev := NewEvent(source, fmt.Sprintf("e%02d", i))
		ev.Type = types[i%len(types)]
		ev.Subject = fmt.Sprintf("subj-%d", i%5)
		ev.ReceivedAt = base.Add(time.Duration(i) * time.Minute)
		all = append(all, Appended(ev, mustAppend(t, s, ev)))
	}

	seqs := func(evs []store.Event) []int64 {
		out := make([]int64, len(evs))
		for i, e := range evs {
			out[i] = e.Seq
		}
		return out
	}
	list := func(f store.EventFilter) []store.Event {
		t.Helper()
		evs, err := s.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Body != nil {
				t.Fatalf("ListEvents returned a body for %s", e.ID)
			}
		}
		return evs
	}

	got := list(store.EventFilter{})
	if len(got) != 20 {
		t.Fatalf("list all = %d events, want 20", len(got))
	}
	for i := range got {
		if got[i].ID != all[i].ID || (i > 0 && got[i].Seq <= got[i-1].Seq) {
			t.Fatalf("list all out of order at %d: %v", i, seqs(got))
		}
	}

	page1 := list(store.EventFilter{Limit: 7})
	page2 := list(store.EventFilter{AfterSeq: page1[len(page1)-1].Seq, Limit: 7})
	if len(page1) != 7 || len(page2) != 7 || page2[0].ID != all[7].ID {
		t.Errorf("forward paging: %v then %v", seqs(page1), seqs(page2))
	}
	// A source's newest first, paged back as the events page does.
	if got := list(store.EventFilter{Source: "payments", BeforeSeq: all[15].Seq, Limit: 2}); len(got) != 2 || got[0].ID != all[12].ID || got[1].ID != all[9].ID {
		t.Errorf("payments before %d: %v, want %s then %s", all[15].Seq, got, all[12].ID, all[9].ID)
	}
	back := list(store.EventFilter{BeforeSeq: all[10].Seq, Limit: 3})
	if len(back) != 3 || back[0].ID != all[9].ID || back[2].ID != all[7].ID {
		t.Errorf("backward paging from %d: %v", all[10].Seq, seqs(back))
	}

	for _, c := range []struct {
		name string
		f    store.EventFilter
		want func(i int, ev *store.Event) bool
	}{
		{"type", store.EventFilter{Type: "message.sent"}, func(_ int, ev *store.Event) bool { return ev.Type == "message.sent" }},
		{"type prefix", store.EventFilter{Type: "message.*"}, func(_ int, ev *store.Event) bool { return strings.HasPrefix(ev.Type, "message.") }},
		{"subject", store.EventFilter{Subject: "subj-3"}, func(_ int, ev *store.Event) bool { return ev.Subject == "subj-3" }},
		{"source", store.EventFilter{Source: "payments"}, func(i int, _ *store.Event) bool { return i%3 == 0 }},
		{"source and type", store.EventFilter{Source: "payments", Type: "message.*"}, func(i int, ev *store.Event) bool {
			return i%3 == 0 && strings.HasPrefix(ev.Type, "message.")
		}},
		{"since/until", store.EventFilter{Since: base.Add(5 * time.Minute), Until: base.Add(9 * time.Minute)}, func(i int, _ *store.Event) bool { return i >= 5 && i < 9 }},
	} {
		var want []string
		for i, ev := range all {
			if c.want(i, ev) {
				want = append(want, ev.ID)
			}
		}
		var gotIDs []string
		for _, ev := range list(c.f) {
			gotIDs = append(gotIDs, ev.ID)
		}
		if fmt.Sprint(gotIDs) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", c.name, gotIDs, want)
		}
	}

	// A pattern naming several types pages by seq both ways, alone and
	// with another filter, and one naming no stored type lists nothing.
	for _, c := range []struct {
		f    store.EventFilter
		want func(ev *store.Event) bool
	}{
		{store.EventFilter{Type: "message.*"}, func(ev *store.Event) bool { return strings.HasPrefix(ev.Type, "message.") }},
		{store.EventFilter{Type: "message.*", Subject: "subj-1"}, func(ev *store.Event) bool {
			return strings.HasPrefix(ev.Type, "message.") && ev.Subject == "subj-1"
		}},
		{store.EventFilter{Type: "*"}, func(*store.Event) bool { return true }},
		{store.EventFilter{Type: "mess*"}, func(ev *store.Event) bool { return strings.HasPrefix(ev.Type, "mess") }},
		{store.EventFilter{Type: "nothing.*"}, func(*store.Event) bool { return false }},
	} {
		var forward, backward []string
		for _, ev := range all {
			if c.want(ev) {
				forward = append(forward, ev.ID)
				backward = append([]string{ev.ID}, backward...)
			}
		}
		f := c.f
		f.Limit = 3
		if got := pageAll(t, s, f, false); fmt.Sprint(got) != fmt.Sprint(forward) {
			t.Errorf("%+v forward: got %v, want %v", c.f, got, forward)
		}
		if got := pageAll(t, s, f, true); fmt.Sprint(got) != fmt.Sprint(backward) {
			t.Errorf("%+v backward: got %v, want %v", c.f, got, backward)
		}
	}
}

// pageAll lists every event f selects, a page of f.Limit at a time:
// oldest first with AfterSeq, or newest first with BeforeSeq.
func pageAll(t *testing.T, s store.Store, f store.EventFilter, backward bool) []string {
	t.Helper()
	var ids []string
	if backward {
		f.BeforeSeq = math.MaxInt64
	}
	for {
		evs, err := s.ListEvents(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			ids = append(ids, ev.ID)
		}
		if len(evs) < f.Limit {
			return ids
		}
		if last := evs[len(evs)-1].Seq; backward {
			f.BeforeSeq = last
		} else {
			f.AfterSeq = last
		}
	}
}

func testRejectionLimits(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	newRejection := func(i, bodySize int) *store.Rejection {
		return newRejection("no_match", fmt.Sprintf("rejection %d", i), bodySize)
	}

	// Count cap: 25 rejections into a log of 10 keep the newest 10.
	limits := store.RejectionLimits{MaxCount: 10, MaxBytes: 1 << 20}
	dropped := 0
	var last int64
	for i := range 25 {
		r := newRejection(i, 100)
		n, err := s.AddRejection(ctx, r, limits)
		if err != nil {
			t.Fatal(err)
		}
		dropped += n
		last = r.ID
	}
	rs, err := s.ListRejections(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 10 || dropped != 15 {
		t.Fatalf("after 25 into a cap of 10: %d kept, %d dropped", len(rs), dropped)
	}
	if rs[0].ID != last || rs[0].Detail != "rejection 24" || rs[9].Detail != "rejection 15" {
		t.Errorf("kept the wrong ones: newest %q, oldest %q", rs[0].Detail, rs[9].Detail)
	}

	// Byte cap: 4 KiB bodies into 10 KiB keep at most two.
	limits = store.RejectionLimits{MaxCount: 1000, MaxBytes: 10 << 10}
	for i := range 6 {
		if _, err := s.AddRejection(ctx, newRejection(100+i, 4<<10), limits); err != nil {
			t.Fatal(err)
		}
	}
	rs, err = s.ListRejections(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, r := range rs {
		full, err := s.GetRejection(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		total += len(full.Body)
	}
	if len(rs) != 2 || total > 10<<10 || rs[0].Detail != "rejection 105" {
		t.Errorf("byte cap: %d kept holding %d body bytes, newest %q", len(rs), total, rs[0].Detail)
	}

	// One rejection larger than the whole cap is refused, and says so.
	if _, err := s.AddRejection(ctx, newRejection(999, 20<<10), limits); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("oversized rejection: err = %v, want ErrTooLarge", err)
	}
}

// newRejection is a rejection of reason with a body of bodySize bytes,
// told apart from others by its detail.
func newRejection(reason, detail string, bodySize int) *store.Rejection {
	return &store.Rejection{
		Source:     "sent",
		ReceivedAt: time.Now().UTC(),
		RemoteAddr: "127.0.0.1:5000",
		Reason:     reason,
		Detail:     detail,
		Headers:    map[string]string{"x-webhook-signature": "v1,AAAA"},
		Body:       bytes.Repeat([]byte{'x'}, bodySize),
		BodyBytes:  int64(bodySize),
	}
}

// A flood of one reason cannot evict the samples of another: the caps are
// split across the reasons, and each drops its own oldest first.
func testRejectionSamplesPerReason(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	add := func(r *store.Rejection, limits store.RejectionLimits) {
		t.Helper()
		if _, err := s.AddRejection(ctx, r, limits); err != nil {
			t.Fatal(err)
		}
	}
	kept := func() map[string][]string {
		t.Helper()
		rs, err := s.ListRejections(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, r := range rs {
			out[r.Reason] = append(out[r.Reason], r.Detail)
		}
		return out
	}

	// By count: 3 stale timestamps, then a flood of 100 mismatches, into a
	// log of 10: two reasons share it 5 and 5.
	limits := store.RejectionLimits{MaxCount: 10, MaxBytes: 1 << 20}
	for i := range 3 {
		add(newRejection("stale_timestamp", fmt.Sprintf("stale %d", i), 100), limits)
	}
	for i := range 100 {
		add(newRejection("no_match", fmt.Sprintf("flood %d", i), 100), limits)
	}
	got := kept()
	if fmt.Sprint(got["stale_timestamp"]) != "[stale 2 stale 1 stale 0]" {
		t.Errorf("the flood evicted another reason's samples: stale_timestamp kept %v", got["stale_timestamp"])
	}
	if fmt.Sprint(got["no_match"]) != "[flood 99 flood 98 flood 97 flood 96 flood 95]" {
		t.Errorf("no_match kept %v, want its newest 5", got["no_match"])
	}

	// By bytes: 1 KiB bodies into 8 KiB split across now three reasons
	// (under 2.7 KiB each) keep at most two of each, and the newest of a
	// reason alone is kept whatever its share.
	limits = store.RejectionLimits{MaxCount: 1000, MaxBytes: 8 << 10}
	add(newRejection("missing_signature", "missing 0", 1<<10), limits)
	for i := range 20 {
		add(newRejection("no_match", fmt.Sprintf("big %d", i), 1<<10), limits)
	}
	got = kept()
	if fmt.Sprint(got["no_match"]) != "[big 19 big 18]" || fmt.Sprint(got["missing_signature"]) != "[missing 0]" ||
		len(got["stale_timestamp"]) != 3 {
		t.Errorf("byte shares: kept %v", got)
	}
}

// Counts add up per source and reason, keep the earliest and latest
// times, say how many samples the log holds, and survive a reopen.
func testRejectionCounts(t *testing.T, factory Factory) {
	ctx := context.Background()
	opener := factory(t)
	s := opener(t)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	batches := [][]store.RejectionCount{
		{{Source: "sent", Reason: "no_match", Count: 1000, FirstAt: at(10), LastAt: at(20)}},
		{
			{Source: "sent", Reason: "no_match", Count: 234, FirstAt: at(5), LastAt: at(15)},
			{Source: "sent", Reason: "stale_timestamp", Count: 2, FirstAt: at(7), LastAt: at(8)},
			{Source: "other", Reason: "no_match", Count: 1, FirstAt: at(9), LastAt: at(9)},
		},
		{{Source: "sent", Reason: "no_match", Count: 1, FirstAt: at(30), LastAt: at(30)}},
	}
	for _, b := range batches {
		if err := s.CountRejections(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// One of them kept as a sample.
	if _, err := s.AddRejection(ctx, newRejection("stale_timestamp", "kept", 10), store.RejectionLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = opener(t)
	defer s.Close()
	got, err := s.RejectionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RejectionCount{
		{Source: "sent", Reason: "no_match", Count: 1235, FirstAt: at(5), LastAt: at(30)},
		{Source: "sent", Reason: "stale_timestamp", Count: 2, FirstAt: at(7), LastAt: at(8), Kept: 1},
		{Source: "other", Reason: "no_match", Count: 1, FirstAt: at(9), LastAt: at(9)},
	}
	if len(got) != len(want) {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Source != w.Source || g.Reason != w.Reason || g.Count != w.Count || !g.FirstAt.Equal(w.FirstAt) || !g.LastAt.Equal(w.LastAt) || g.Kept != w.Kept {
			t.Errorf("counts[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func testRejectionRelease(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	r := &store.Rejection{
		Source: "sent", ReceivedAt: time.Now().UTC(), Reason: "no_match",
		Diagnosis: "no configured secret matched",
		Headers:   map[string]string{"x-webhook-id": "abc"},
		Body:      []byte(`{"field":"message"}`),
		BodyBytes: 19, BodySHA256: "0123abcd",
	}
	if _, err := s.AddRejection(ctx, r, store.RejectionLimits{}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRejection(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != string(r.Body) || got.Diagnosis != r.Diagnosis || got.Headers["x-webhook-id"] != "abc" || !got.ReleasedAt.IsZero() ||
		got.BodyBytes != 19 || got.BodySHA256 != "0123abcd" || got.Truncated {
		t.Fatalf("rejection round trip = %+v", got)
	}

	// Only the first bytes of a large body kept: the whole body's length
	// and hash, and the mark, come back with and without the body.
	part := newRejection("no_match", "in part", 64)
	part.BodyBytes, part.BodySHA256, part.Truncated = 1<<20, strings.Repeat("ab", 32), true
	if _, err := s.AddRejection(ctx, part, store.RejectionLimits{}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRejection(ctx, part.ID)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.ListRejections(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []store.Rejection{*got, rs[0]} {
		if g.ID != part.ID || !g.Truncated || g.BodyBytes != 1<<20 || g.BodySHA256 != part.BodySHA256 {
			t.Errorf("truncated rejection round trip = %+v", g)
		}
	}
	if len(got.Body) != 64 {
		t.Errorf("kept body = %d bytes, want the 64 given", len(got.Body))
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.MarkRejectionReleased(ctx, r.ID, "evt-1", at); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRejection(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != "evt-1" || !got.ReleasedAt.Equal(at) {
		t.Errorf("released = %v %q, want %v evt-1", got.ReleasedAt, got.EventID, at)
	}
	if err := s.MarkRejectionReleased(ctx, r.ID+1000, "evt-2", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("release of unknown rejection: err = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	if _, err := s.GetEvent(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetEvent: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetRejection(ctx, 42); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRejection: err = %v, want ErrNotFound", err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Errorf("Ready on a fresh store: %v", err)
	}
}

func testClosed(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := factory(t)(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, NewEvent("sent", "late")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Append after Close: err = %v, want ErrClosed", err)
	}
	if err := s.Ready(ctx); err == nil {
		t.Error("Ready after Close returned nil")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// appendWithDestinations stores an event received at t0 going to dests.
func appendWithDestinations(t *testing.T, s store.Store, key string, dests ...string) *store.Event {
	t.Helper()
	ev := NewEvent("sent", key)
	ev.ReceivedAt = t0
	ev.Destinations = dests
	return Appended(ev, mustAppend(t, s, ev))
}

// Appended is ev as Append stored it, as far as a test needs: its data
// and the seq res gives it. What else the store keeps (Rank, Stale,
// Duplicates, DeliveryCounts) is left zero: GetEvent reads it.
func Appended(ev *store.NewEvent, res store.AppendResult) *store.Event {
	return &store.Event{EventData: ev.EventData, Seq: res.Seq}
}

func claim(t *testing.T, s store.Store, owner string, now time.Time, limit int) []store.Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), store.ClaimParams{Owner: owner, Now: now, Lease: 30 * time.Second, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func delivery(t *testing.T, s store.Store, id int64) store.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(context.Background(), store.DeliveryFilter{AfterID: id - 1, Limit: 1})
	if err != nil || len(ds) != 1 || ds[0].ID != id {
		t.Fatalf("delivery %d: %v %v", id, ds, err)
	}
	return ds[0]
}

func testDeliveriesCreated(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	// A destination named twice gets one delivery, not a failed append.
	ev := appendWithDestinations(t, s, "d1", "app", "log", "app")
	ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Destination != "app" || ds[1].Destination != "log" {
		t.Fatalf("deliveries = %+v", ds)
	}
	for _, d := range ds {
		if d.Status != store.DeliveryPending || !d.NextAttemptAt.Equal(t0) || d.Attempts != 0 || d.EventSeq != ev.Seq {
			t.Errorf("new delivery = %+v", d)
		}
	}
	// A duplicate creates no new deliveries.
	dup := NewEvent("sent", "d1")
	dup.Destinations = []string{"app", "log", "other"}
	if res := mustAppend(t, s, dup); !res.Duplicate {
		t.Fatal("not a duplicate")
	}
	all, err := s.ListDeliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Errorf("after a duplicate: %d deliveries, want 2", len(all))
	}
	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok || !next.Equal(t0) {
		t.Errorf("NextDue = %v %v %v, want %v", next, ok, err, t0)
	}
}

func testClaimCompleteRetry(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	ev := appendWithDestinations(t, s, "c1", "app")

	if got := claim(t, s, "w1", t0.Add(-time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed %d deliveries before they were due", len(got))
	}
	got := claim(t, s, "w1", t0, 10)
	if len(got) != 1 || got[0].Event == nil || got[0].Event.ID != ev.ID || !bytes.Equal(got[0].Event.Body, ev.Body) {
		t.Fatalf("claim = %+v", got)
	}
	d := got[0].Delivery
	if d.Status != store.DeliveryInFlight || d.LeaseOwner != "w1" || !d.LeaseUntil.Equal(t0.Add(30*time.Second)) {
		t.Errorf("claimed delivery = %+v", d)
	}
	if again := claim(t, s, "w2", t0, 10); len(again) != 0 {
		t.Fatalf("an in-flight delivery was claimed twice")
	}

	// A temporary failure: pending again, due in 10s, one attempt spent.
	retryAt := t0.Add(10 * time.Second)
	err := s.Complete(ctx, store.Completion{DeliveryID: d.ID, Owner: "w1", Status: store.DeliveryPending,
		NextAttemptAt: retryAt, SpendAttempt: true, Now: t0.Add(time.Second),
		Attempt: store.Attempt{Attempt: 1, StartedAt: t0, Duration: 20 * time.Millisecond, Outcome: store.OutcomeTemporary, StatusCode: 503, Error: "503 Service Unavailable", Response: "busy"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, s, d.ID); d.Status != store.DeliveryPending || d.Attempts != 1 || !d.NextAttemptAt.Equal(retryAt) || d.LastError != "503 Service Unavailable" {
		t.Errorf("after a temporary failure: %+v", d)
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(retryAt) {
		t.Errorf("NextDue = %v, want %v", next, retryAt)
	}
	if got := claim(t, s, "w1", retryAt.Add(-time.Millisecond), 10); len(got) != 0 {
		t.Fatal("claimed before the retry was due")
	}

	// A snooze does not spend an attempt.
	got = claim(t, s, "w1", retryAt, 10)
	if len(got) != 1 {
		t.Fatalf("retry not claimed when due: %d", len(got))
	}
	if err := s.Complete(ctx, store.Completion{DeliveryID: d.ID, Owner: "w1", Status: store.DeliveryPending,
		NextAttemptAt: retryAt.Add(time.Minute), Now: retryAt,
		Attempt: store.Attempt{Attempt: 2, StartedAt: retryAt, Outcome: store.OutcomeSnoozed}}); err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, s, d.ID); d.Attempts != 1 {
		t.Errorf("a snooze spent an attempt: %d", d.Attempts)
	}

	// Success.
	got = claim(t, s, "w1", retryAt.Add(time.Minute), 10)
	if len(got) != 1 {
		t.Fatal("snoozed delivery not claimed when due")
	}
	if err := s.Complete(ctx, store.Completion{DeliveryID: d.ID, Owner: "w1", Status: store.DeliverySucceeded, SpendAttempt: true,
		Now: retryAt.Add(time.Minute), Attempt: store.Attempt{Attempt: 2, StartedAt: retryAt.Add(time.Minute), Outcome: store.OutcomeSucceeded, StatusCode: 200}}); err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, s, d.ID); d.Status != store.DeliverySucceeded || d.Attempts != 2 {
		t.Errorf("after success: %+v", d)
	}
	if _, ok, _ := s.NextDue(ctx); ok {
		t.Error("NextDue reports work after the only delivery succeeded")
	}
	attempts, err := s.ListAttempts(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := ""
	for _, a := range attempts {
		outcomes += string(a.Outcome) + " "
	}
	if len(attempts) != 3 || outcomes != "temporary snoozed succeeded " || attempts[0].StatusCode != 503 || attempts[0].Response != "busy" || attempts[0].Duration != 20*time.Millisecond {
		t.Errorf("attempts = %+v", attempts)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deliveries[store.DeliverySucceeded] != 1 {
		t.Errorf("stats deliveries = %v", st.Deliveries)
	}
}

func testLeaseExpiry(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	appendWithDestinations(t, s, "l1", "app")
	first := claim(t, s, "crashed", t0, 10)
	if len(first) != 1 {
		t.Fatal("not claimed")
	}
	id := first[0].Delivery.ID
	if got := claim(t, s, "w2", t0.Add(29*time.Second), 10); len(got) != 0 {
		t.Fatal("claimed while the lease still held")
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(t0.Add(30*time.Second)) {
		t.Errorf("NextDue = %v, want the lease's end", next)
	}
	got := claim(t, s, "w2", t0.Add(30*time.Second), 10)
	if len(got) != 1 || got[0].Delivery.ID != id || got[0].Delivery.LeaseOwner != "w2" || got[0].Delivery.Attempts != 1 {
		t.Fatalf("reclaim after expiry = %+v", got)
	}
	// The crashed worker comes back: its completion is refused, but recorded.
	err := s.Complete(ctx, store.Completion{DeliveryID: id, Owner: "crashed", Status: store.DeliverySucceeded, SpendAttempt: true,
		Now: t0.Add(31 * time.Second), Attempt: store.Attempt{Attempt: 1, StartedAt: t0, Outcome: store.OutcomeSucceeded}})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("completion by the lease's old owner: err = %v, want ErrLeaseLost", err)
	}
	if d := delivery(t, s, id); d.Status != store.DeliveryInFlight || d.LeaseOwner != "w2" {
		t.Errorf("the old owner's completion changed the delivery: %+v", d)
	}
	attempts, _ := s.ListAttempts(ctx, id)
	if len(attempts) != 2 || attempts[0].Outcome != store.OutcomeLeaseExpired {
		t.Errorf("attempts = %+v, want lease_expired then the late one", attempts)
	}
}

func testClaimConcurrentOnce(t *testing.T, factory Factory) {
	s, _ := open(t, factory)
	for i := range 200 {
		appendWithDestinations(t, s, fmt.Sprint("cc", i), "app")
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int64]string{}
	)
	for w := range 4 {
		owner := fmt.Sprint("w", w)
		wg.Go(func() {
			for {
				got, err := s.Claim(context.Background(), store.ClaimParams{Owner: owner, Now: t0, Lease: time.Minute, Limit: 7})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, ok := seen[c.Delivery.ID]; ok {
						t.Errorf("delivery %d claimed by %s and %s", c.Delivery.ID, prev, owner)
					}
					seen[c.Delivery.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Errorf("%d deliveries claimed, want 200", len(seen))
	}
}

func testRequeueAndDiscard(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	a := appendWithDestinations(t, s, "r1", "app")
	b := appendWithDestinations(t, s, "r2", "app")
	c := appendWithDestinations(t, s, "r3", "app")
	got := claim(t, s, "w", t0, 10)
	if len(got) != 3 {
		t.Fatal("not claimed")
	}
	status := map[string]store.DeliveryStatus{a.ID: store.DeliveryDead, b.ID: store.DeliverySucceeded, c.ID: store.DeliveryDead}
	ids := map[string]int64{}
	for _, cl := range got {
		ids[cl.Event.ID] = cl.Delivery.ID
		if err := s.Complete(ctx, store.Completion{DeliveryID: cl.Delivery.ID, Owner: "w", Status: status[cl.Event.ID], SpendAttempt: true,
			Now: t0, Attempt: store.Attempt{Attempt: 1, StartedAt: t0, Outcome: store.OutcomePermanent}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Requeue(ctx, store.DeliverySelector{}, t0); !errors.Is(err, store.ErrNoSelection) {
		t.Errorf("requeue with an empty selector: err = %v", err)
	}
	later := t0.Add(time.Hour)
	// Retry every dead delivery.
	n, err := s.Requeue(ctx, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}}, later)
	if err != nil || n != 2 {
		t.Fatalf("requeue dead = %d, %v; want 2", n, err)
	}
	if d := delivery(t, s, ids[a.ID]); d.Status != store.DeliveryPending || d.Attempts != 0 || !d.NextAttemptAt.Equal(later) {
		t.Errorf("retried delivery = %+v", d)
	}
	// Replay a succeeded one by event id.
	if n, err := s.Requeue(ctx, store.DeliverySelector{EventIDs: []string{b.ID}}, later); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	if d := delivery(t, s, ids[b.ID]); d.Status != store.DeliveryPending {
		t.Errorf("replayed delivery = %+v", d)
	}
	// Discard one pending; succeeded and in-flight ones cannot be discarded.
	if n, err := s.Discard(ctx, store.DeliverySelector{IDs: []int64{ids[c.ID]}}, later); err != nil || n != 1 {
		t.Fatalf("discard = %d, %v", n, err)
	}
	if d := delivery(t, s, ids[c.ID]); d.Status != store.DeliveryDiscarded {
		t.Errorf("discarded delivery = %+v", d)
	}
	if got := claim(t, s, "w", later, 10); len(got) != 2 {
		t.Errorf("after requeue: %d claimable, want 2", len(got))
	}
}

func testAddDeliveries(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	bare := appendWithDestinations(t, s, "a1")          // stored with no destination
	has := appendWithDestinations(t, s, "a2", "app")    // already has one to app
	other := appendWithDestinations(t, s, "a3", "logs") // has one elsewhere

	if _, err := s.AddDeliveries(ctx, nil, "app", t0); !errors.Is(err, store.ErrNoSelection) {
		t.Errorf("no event ids: err = %v, want ErrNoSelection", err)
	}
	later := t0.Add(time.Minute)
	n, err := s.AddDeliveries(ctx, []string{bare.ID, has.ID, other.ID, "no-such-event", bare.ID}, "app", later)
	if err != nil || n != 2 {
		t.Fatalf("AddDeliveries = %d, %v; want 2 created (not the existing one, not the unknown id, not the id named twice again)", n, err)
	}
	// Again: nothing new.
	if n, err := s.AddDeliveries(ctx, []string{bare.ID, other.ID}, "app", later); err != nil || n != 0 {
		t.Errorf("second AddDeliveries = %d, %v; want 0", n, err)
	}
	for _, ev := range []*store.Event{bare, other} {
		ds, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventID: ev.ID, Destination: "app"})
		if err != nil || len(ds) != 1 {
			t.Fatalf("deliveries of %s to app: %+v, %v", ev.ID, ds, err)
		}
		if d := ds[0]; d.Status != store.DeliveryPending || !d.NextAttemptAt.Equal(later) || d.Attempts != 0 {
			t.Errorf("added delivery = %+v, want pending at %s", d, later)
		}
	}
	// They are claimed like any other, with their events.
	got := claim(t, s, "w", later, 10)
	claimed := map[string]bool{}
	for _, c := range got {
		if c.Delivery.Destination == "app" {
			claimed[c.Event.ID] = true
		}
	}
	if !claimed[bare.ID] || !claimed[other.ID] {
		t.Errorf("claimed %v, want the added deliveries of %s and %s", claimed, bare.ID, other.ID)
	}
}

func testRoutes(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, opener := open(t, factory)

	if rs, recorded, err := s.Routes(ctx); err != nil || recorded || len(rs) != 0 {
		t.Fatalf("routes of a new store = %v, %v, %v; want none, not recorded", rs, recorded, err)
	}
	want := []store.Route{
		{Name: "forward", Types: []string{"message.*", "template.approved"}, Sources: []string{"sent", "payments"}, Filter: `status in ["FAILED"]`, Rate: "50/s", Concurrency: 4, ConcurrencyShared: true},
		{Name: "log", Concurrency: 16},
	}
	if err := s.SetRoutes(ctx, want); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = opener(t)
	defer s.Close()
	got, recorded, err := s.Routes(ctx)
	if err != nil || !recorded || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("routes after reopen = %v, %v, %v; want %v, recorded", got, recorded, err, want)
	}
	// Replaced whole; recording none is recording something.
	if err := s.SetRoutes(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got, recorded, err := s.Routes(ctx); err != nil || !recorded || len(got) != 0 {
		t.Fatalf("routes after recording none = %v, %v, %v; want none, recorded", got, recorded, err)
	}
}

// Attempts are numbered across the delivery's life: a retry or replay
// gives it a fresh budget, not a fresh count, and the number the
// completion carries (the budget's) does not matter. Each claim says the
// number its attempt will get, which the destination is told.
func testAttemptsNumberedForLife(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)
	appendWithDestinations(t, s, "life", "app")

	now := t0
	var numbered []int // what each claim said
	try := func(status store.DeliveryStatus, outcome store.AttemptOutcome) {
		t.Helper()
		got := claim(t, s, "w1", now, 10)
		if len(got) != 1 {
			t.Fatalf("claimed %d deliveries at %v, want 1", len(got), now)
		}
		numbered = append(numbered, got[0].Attempt)
		err := s.Complete(ctx, store.Completion{DeliveryID: got[0].Delivery.ID, Owner: "w1", Status: status,
			NextAttemptAt: now, SpendAttempt: true, Now: now,
			Attempt: store.Attempt{Attempt: 1, StartedAt: now, Outcome: outcome}})
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	try(store.DeliveryPending, store.OutcomeTemporary)
	try(store.DeliveryDead, store.OutcomeDead)
	if n, err := s.Requeue(ctx, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliveryDead}}, now); err != nil || n != 1 {
		t.Fatalf("requeue = %d, %v", n, err)
	}
	try(store.DeliverySucceeded, store.OutcomeSucceeded)
	if n, err := s.Requeue(ctx, store.DeliverySelector{Statuses: []store.DeliveryStatus{store.DeliverySucceeded}}, now); err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	// This one's worker dies: the lost attempt is numbered on too.
	lost := claim(t, s, "w1", now, 10)
	if len(lost) != 1 {
		t.Fatal("replayed delivery not claimed")
	}
	numbered = append(numbered, lost[0].Attempt)
	now = now.Add(time.Hour)
	try(store.DeliverySucceeded, store.OutcomeSucceeded)

	d := lost[0].Delivery
	as, err := s.ListAttempts(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, fmt.Sprintf("#%d %s", a.Attempt, a.Outcome))
	}
	want := []string{"#1 temporary", "#2 dead", "#3 succeeded", "#4 lease_expired", "#5 succeeded"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attempts = %v, want %v", got, want)
	}
	if want := []int{1, 2, 3, 4, 5}; !slices.Equal(numbered, want) {
		t.Errorf("claims numbered their attempts %v, want %v as they are recorded", numbered, want)
	}
	if d := delivery(t, s, d.ID); d.Status != store.DeliverySucceeded || d.Attempts != 2 {
		t.Errorf("delivery after its replay = %s with %d attempts spent since, want succeeded with 2 (the lost one and the last)", d.Status, d.Attempts)
	}
}
