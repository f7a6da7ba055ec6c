package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/hooklatch/hooklatch/store"
)

// Events are found by their id, the end of their id (the short id listen
// prints), Sent's id for them or their dedupe key; a short id two events share is an error
// that lists both, and one that names nothing is ErrNotFound.
func testFindEvent(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	a := NewEvent("sent", "event-id:evt_a")       // as X-Webhook-Event-Id keys it
	a.ID = "019a0000-0000-7000-8000-0000aa11b2c3" // shares its last 6 with b, not its last 8
	b := NewEvent("sent", "id:evt_b")             // as a gen 1 envelope id keys it
	b.ID = "019a0000-0000-7000-8000-0000bb11b2c3"
	c := NewEvent("other", "sha256:c3")
	c.ID = "019a0000-0000-7000-8000-00000000c3d4"
	d := NewEvent("zzz", "event-id:evt_d") // a source sorting after the others
	d.ID = "019a0000-0000-7000-8000-0000ffd4e5f6"
	twice1 := NewEvent("sent", "event-id:evt_twice") // one Sent id in two sources
	twice2 := NewEvent("zzz", "event-id:evt_twice")
	for _, ev := range []*store.NewEvent{a, b, c, d, twice1, twice2} {
		mustAppend(t, s, ev)
	}

	for _, tc := range []struct{ ref, want string }{
		{a.ID, a.ID},
		{"aa11b2c3", a.ID},
		{"bb11b2c3", b.ID},
		{"00c3d4", c.ID}, // the shortest suffix taken
		{"0000c3d4", c.ID},
		{" 0000c3d4\n", c.ID},
		{"evt_a", a.ID}, // Sent's id
		{"evt_b", b.ID},
		{"event-id:evt_a", a.ID}, // the dedupe key itself
		{"sha256:c3", c.ID},      // in any source
		{"evt_d", d.ID},          // in the last source
		{"ffd4e5f6", d.ID},
	} {
		ev, err := store.FindEvent(ctx, s, tc.ref)
		if err != nil {
			t.Errorf("FindEvent(%q): %v", tc.ref, err)
			continue
		}
		if ev.ID != tc.want || len(ev.Body) == 0 {
			t.Errorf("FindEvent(%q) = %s with %d body bytes, want %s with its body", tc.ref, ev.ID, len(ev.Body), tc.want)
		}
	}

	_, err := store.FindEvent(ctx, s, "0c3d4")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a suffix shorter than %d characters: err = %v, want ErrNotFound", store.MinIDSuffix, err)
	}
	for _, ref := range []string{"", "nothing", "019a0000-0000", "7000-8000-0000"} {
		if _, err := store.FindEvent(ctx, s, ref); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindEvent(%q): err = %v, want ErrNotFound (only an id's end is a short id)", ref, err)
		}
	}

	_, err = store.FindEvent(ctx, s, "11b2c3") // the end of both a and b
	amb, ok := errors.AsType[*store.AmbiguousError](err)
	if !ok {
		t.Fatalf("a short id two events share: err = %v, want *store.AmbiguousError", err)
	}
	var ids []string
	for _, ev := range amb.Candidates {
		ids = append(ids, ev.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint([]string{b.ID, a.ID}) || amb.More {
		t.Errorf("candidates = %v (more %v), want %s then %s, newest first", ids, amb.More, b.ID, a.ID)
	}

	_, err = store.FindEvent(ctx, s, "evt_twice")
	if amb, ok := errors.AsType[*store.AmbiguousError](err); !ok || len(amb.Candidates) != 2 ||
		amb.Candidates[0].ID != twice2.ID || amb.Candidates[1].ID != twice1.ID {
		t.Errorf("a Sent id two sources share: err = %v, want both events, newest first", err)
	}

	// The filters themselves.
	for _, tc := range []struct {
		f    store.EventFilter
		want []string
	}{
		{store.EventFilter{IDSuffix: "11b2c3"}, []string{a.ID, b.ID}},
		{store.EventFilter{IDSuffix: "11b2c3", BeforeSeq: math.MaxInt64, Limit: 1}, []string{b.ID}},
		{store.EventFilter{IDSuffix: "aa11b2c3"}, []string{a.ID}},
		{store.EventFilter{IDSuffix: "c0019a"}, nil},
		{store.EventFilter{DedupeKeys: []string{"event-id:evt_a"}}, []string{a.ID}},
		{store.EventFilter{DedupeKeys: []string{"id:evt_b", "sha256:c3", "evt_a"}}, []string{b.ID, c.ID}},
		{store.EventFilter{DedupeKeys: []string{"event-id:evt_twice"}}, []string{twice1.ID, twice2.ID}},
		{store.EventFilter{DedupeKeys: []string{"event-id:evt_a"}, IDSuffix: "00c3d4"}, nil},
	} {
		got := listedIDs(t, s, tc.f)
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListEvents(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}

	testFindEventByHashedID(t, s)

	// The index holds the last MinIDSuffix characters: fewer name too
	// many events to find through it.
	if _, err := s.ListEvents(ctx, store.EventFilter{IDSuffix: "b2c3"}); err == nil {
		t.Errorf("an id suffix of 4 characters listed events; want an error asking for %d", store.MinIDSuffix)
	}
}

// Ids made from their body's hash (store.NewEventID) are found by
// every end as other ids are, and beside them: an id made otherwise that
// ends as a made one does, and an event with the same body in another
// source, share its short id.
func testFindEventByHashedID(t *testing.T, s store.Store) {
	ctx := context.Background()
	h := NewEvent("sent", "event-id:evt_hashed")
	h.ID = store.NewEventIDFor(h.Body)
	again := NewEvent("other", "event-id:evt_hashed") // the same body, in another source
	again.ID = store.NewEventIDFor(again.Body)
	// Their ends differ before the hash, whatever the random bits drew.
	h.ID, again.ID = h.ID[:19]+"8888"+h.ID[23:], again.ID[:19]+"9999"+again.ID[23:]
	lone := NewEvent("sent", "event-id:evt_lone")
	lone.ID = store.NewEventIDFor(lone.Body)
	alike := NewEvent("sent", "event-id:evt_alike") // ends as lone does, made otherwise
	alike.ID = "019a0000-0000-7000-8000-0000ee" + lone.ID[len(lone.ID)-6:]
	for _, ev := range []*store.NewEvent{h, again, lone, alike} {
		mustAppend(t, s, ev)
	}
	if h.ID[len(h.ID)-12:] != again.ID[len(again.ID)-12:] {
		t.Fatalf("ids %s and %s of one body end differently", h.ID, again.ID)
	}
	for _, n := range []int{8, 9, 12, 13, 20, len(lone.ID)} {
		ref := lone.ID[len(lone.ID)-n:]
		if ev, err := store.FindEvent(ctx, s, ref); err != nil || ev.ID != lone.ID {
			t.Errorf("FindEvent(%q) = %v, %v; want %s", ref, ev, err, lone.ID)
		}
	}
	for _, tc := range []struct {
		suffix string
		want   []string
	}{
		{lone.ID[len(lone.ID)-6:], []string{lone.ID, alike.ID}},
		{lone.ID[len(lone.ID)-7:], []string{lone.ID}},
		{alike.ID[len(alike.ID)-8:], []string{alike.ID}},
		{h.ID[len(h.ID)-12:], []string{h.ID, again.ID}},
		{h.ID[len(h.ID)-17:], []string{h.ID}},
		{again.ID[len(again.ID)-17:], []string{again.ID}},
	} {
		if got := listedIDs(t, s, store.EventFilter{IDSuffix: tc.suffix}); !slices.Equal(got, tc.want) {
			t.Errorf("ListEvents(IDSuffix %q) = %v, want %v", tc.suffix, got, tc.want)
		}
	}
	if _, err := store.FindEvent(ctx, s, h.ID[len(h.ID)-8:]); !errors.As(err, new(*store.AmbiguousError)) {
		t.Errorf("a short id of one body in two sources: err = %v, want *store.AmbiguousError", err)
	}
}

// Each listed event counts its deliveries by status and sums them up in
// one state, and listing by a state finds exactly the events with a
// delivery in it, whatever their other deliveries are: one discarded
// delivery of three is found among the discarded.
func testEventDeliveryStates(t *testing.T, factory Factory) {
	ctx := context.Background()
	s, _ := open(t, factory)

	succeeded := appendWithDestinations(t, s, "s1", "app")
	deadAndOK := appendWithDestinations(t, s, "s2", "app", "logs")
	inFlight := appendWithDestinations(t, s, "s3", "app")
	discarded := appendWithDestinations(t, s, "s4", "app")
	okAndDiscarded := appendWithDestinations(t, s, "s5", "app", "logs")
	oneOfThreeDiscarded := appendWithDestinations(t, s, "s5b", "app", "logs", "crm")
	outcome := map[string]store.DeliveryStatus{
		oneOfThreeDiscarded.ID + "app": store.DeliverySucceeded, oneOfThreeDiscarded.ID + "logs": store.DeliverySucceeded,
		oneOfThreeDiscarded.ID + "crm": store.DeliveryDead,
		succeeded.ID + "app":           store.DeliverySucceeded,
		deadAndOK.ID + "app":           store.DeliveryDead, deadAndOK.ID + "logs": store.DeliverySucceeded,
		discarded.ID + "app":      store.DeliveryDead,
		okAndDiscarded.ID + "app": store.DeliverySucceeded, okAndDiscarded.ID + "logs": store.DeliveryDead,
	}
	for _, cl := range claim(t, s, "w", t0, 100) {
		status, ok := outcome[cl.Event.ID+cl.Delivery.Destination]
		if !ok {
			continue // left in flight
		}
		if err := s.Complete(ctx, store.Completion{DeliveryID: cl.Delivery.ID, Owner: "w", Status: status, SpendAttempt: true,
			Now: t0, Attempt: store.Attempt{Attempt: 1, StartedAt: t0, Outcome: store.OutcomePermanent}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []*store.Event{discarded, okAndDiscarded, oneOfThreeDiscarded} {
		if n, err := s.Discard(ctx, store.DeliverySelector{EventIDs: []string{ev.ID}, Statuses: []store.DeliveryStatus{store.DeliveryDead}}, t0); err != nil || n != 1 {
			t.Fatalf("discard: %d, %v", n, err)
		}
	}
	pending := appendWithDestinations(t, s, "s6", "app")
	undelivered := appendWithDestinations(t, s, "s7")
	s8 := NewEvent("sent", "s8") // a second type, so that "message.*" names two
	s8.Type, s8.ReceivedAt = "message.sent", t0
	sent := Appended(s8, mustAppend(t, s, s8))

	want := []struct {
		ev     *store.Event
		counts map[store.DeliveryStatus]int
		state  store.DeliveryStatus
	}{
		{succeeded, map[store.DeliveryStatus]int{store.DeliverySucceeded: 1}, store.DeliverySucceeded},
		{deadAndOK, map[store.DeliveryStatus]int{store.DeliveryDead: 1, store.DeliverySucceeded: 1}, store.DeliveryDead},
		{inFlight, map[store.DeliveryStatus]int{store.DeliveryInFlight: 1}, store.DeliveryPending},
		{discarded, map[store.DeliveryStatus]int{store.DeliveryDiscarded: 1}, store.DeliveryDiscarded},
		{okAndDiscarded, map[store.DeliveryStatus]int{store.DeliverySucceeded: 1, store.DeliveryDiscarded: 1}, store.DeliverySucceeded},
		{oneOfThreeDiscarded, map[store.DeliveryStatus]int{store.DeliverySucceeded: 2, store.DeliveryDiscarded: 1}, store.DeliverySucceeded},
		{pending, map[store.DeliveryStatus]int{store.DeliveryPending: 1}, store.DeliveryPending},
		{undelivered, nil, store.DeliveryNone},
		{sent, nil, store.DeliveryNone},
	}
	all, err := s.ListEvents(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(want) {
		t.Fatalf("listed %d events, want %d", len(all), len(want))
	}
	for i, w := range want {
		got := all[i]
		if got.ID != w.ev.ID || fmt.Sprint(got.DeliveryCounts) != fmt.Sprint(w.counts) || got.DeliveryState() != w.state {
			t.Errorf("event %s: counts %v, state %q; want %v, %q", w.ev.DedupeKey, got.DeliveryCounts, got.DeliveryState(), w.counts, w.state)
		}
	}

	foundBy := map[store.DeliveryStatus][]*store.Event{ // oldest first
		store.DeliveryDead:      {deadAndOK},
		store.DeliveryPending:   {inFlight, pending},
		store.DeliverySucceeded: {succeeded, deadAndOK, okAndDiscarded, oneOfThreeDiscarded},
		store.DeliveryDiscarded: {discarded, okAndDiscarded, oneOfThreeDiscarded},
		store.DeliveryNone:      {undelivered, sent},
	}
	for _, word := range store.DeliveryStates() {
		state := store.DeliveryStatus(word)
		var wantIDs []string
		for _, ev := range foundBy[state] {
			wantIDs = append([]string{ev.ID}, wantIDs...) // newest first
		}
		for _, typ := range []string{"", "message.*", "mess*"} { // a pattern walks each type apart
			evs, err := s.ListEvents(ctx, store.EventFilter{Delivery: state, Type: typ, BeforeSeq: math.MaxInt64})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.ID)
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("events of type %q in state %s = %v, want %v", typ, state, got, wantIDs)
			}
		}
	}
	if evs, err := s.ListEvents(ctx, store.EventFilter{Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64, Limit: 1}); err != nil || len(evs) != 1 || evs[0].ID != pending.ID {
		t.Errorf("newest pending event: %v, %v; want %s", evs, err, pending.ID)
	}
	// A walk down to a seq stops there, whether it walks events or types.
	for _, typ := range []string{"", "message.sent", "message.*"} {
		got := listedIDs(t, s, store.EventFilter{Delivery: store.DeliveryNone, Type: typ, BeforeSeq: math.MaxInt64, MinSeq: sent.Seq})
		if !slices.Equal(got, []string{sent.ID}) {
			t.Errorf("events of type %q without a delivery, down to seq %d = %v, want %v", typ, sent.Seq, got, []string{sent.ID})
		}
	}
	// More pending events, one with two pending deliveries: each listed
	// once, in seq order both ways, and a page goes on from its keyset.
	twice := appendWithDestinations(t, s, "s9", "app", "crm")
	newest := appendWithDestinations(t, s, "s10", "app")
	pendingIDs := []string{newest.ID, twice.ID, pending.ID, inFlight.ID}
	for name, f := range map[string]store.EventFilter{
		"newest first":    {Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64},
		"oldest first":    {Delivery: store.DeliveryPending, AfterSeq: 1},
		"before a seq":    {Delivery: store.DeliveryPending, BeforeSeq: twice.Seq},
		"after a seq":     {Delivery: store.DeliveryPending, AfterSeq: pending.Seq},
		"of a type first": {Delivery: store.DeliveryPending, Type: "message.delivered", BeforeSeq: math.MaxInt64, Limit: 2},
		"down to a seq":   {Delivery: store.DeliveryPending, BeforeSeq: math.MaxInt64, MinSeq: twice.Seq},
	} {
		got := listedIDs(t, s, f)
		want := pendingIDs
		switch name {
		case "oldest first":
			want = slices.Clone(want)
			slices.Reverse(want)
		case "before a seq":
			want = want[2:]
		case "after a seq":
			want = []string{twice.ID, newest.ID}
		case "of a type first", "down to a seq":
			want = want[:2]
		}
		if !slices.Equal(got, want) {
			t.Errorf("pending events, %s = %v, want %v", name, got, want)
		}
	}
	if _, err := s.ListEvents(ctx, store.EventFilter{Delivery: "lost"}); err == nil {
		t.Error("an unknown delivery state listed events; want an error")
	}
}

// Listing only the events marked for attention finds exactly those, in
// seq order both ways, with the other filters.
func testAttentionOnly(t *testing.T, factory Factory) {
	s, _ := open(t, factory)
	var marked []*store.Event // oldest first
	for i := range 9 {
		ev := NewEvent("sent", fmt.Sprint("a", i))
		if i%3 == 1 {
			ev.Attention = "unknown type"
			ev.Type = []string{"message.sent", "message.delivered", "message.sent"}[i/3]
		}
		if res := mustAppend(t, s, ev); ev.Attention != "" {
			marked = append(marked, Appended(ev, res))
		}
	}
	ids := func(evs []*store.Event) (out []string) {
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	newest := ids([]*store.Event{marked[2], marked[1], marked[0]})
	for name, tc := range map[string]struct {
		f    store.EventFilter
		want []string
	}{
		"newest first": {store.EventFilter{BeforeSeq: math.MaxInt64}, newest},
		"oldest first": {store.EventFilter{}, ids(marked)},
		"before a seq": {store.EventFilter{BeforeSeq: marked[2].Seq}, newest[1:]},
		"after a seq":  {store.EventFilter{AfterSeq: marked[0].Seq, Limit: 1}, newest[1:2]},
		"of a type":    {store.EventFilter{Type: "message.sent", BeforeSeq: math.MaxInt64}, []string{marked[2].ID, marked[0].ID}},
		"of a pattern": {store.EventFilter{Type: "message.*", BeforeSeq: math.MaxInt64, Limit: 2}, newest[:2]},
		"undelivered":  {store.EventFilter{Delivery: store.DeliveryNone, BeforeSeq: math.MaxInt64}, newest},
		"dead":         {store.EventFilter{Delivery: store.DeliveryDead, BeforeSeq: math.MaxInt64}, nil},
	} {
		tc.f.AttentionOnly = true
		got := listedIDs(t, s, tc.f)
		if !slices.Equal(got, tc.want) {
			t.Errorf("events marked for attention, %s = %v, want %v", name, got, tc.want)
		}
	}
}

// listedIDs lists the ids of the events f selects.
func listedIDs(t *testing.T, s store.Store, f store.EventFilter) []string {
	t.Helper()
	evs, err := s.ListEvents(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}
