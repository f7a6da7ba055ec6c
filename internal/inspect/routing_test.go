package inspect_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// bothStores runs test on a SQLite store and on the PostgreSQL server of
// the environment (skipped without one, unless services are required).
func bothStores(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "h.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		test(t, st)
	})
}

// destinationsOf names the destinations ev has a delivery to, and their
// statuses.
func destinationsOf(t *testing.T, st store.Store, eventID string) map[string]store.DeliveryStatus {
	t.Helper()
	ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: eventID})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.DeliveryStatus{}
	for _, d := range ds {
		out[d.Destination] = d.Status
	}
	return out
}

// A released rejection goes where the receiver would have sent it when it
// arrived: a destination that takes only Sent's events does not get the
// event of another source.
func TestReleaseRoutesBySource(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if err := dispatch.RecordRoutes(ctx, st, []dispatch.Route{
			{Name: "sent-only", Sources: []string{"sent"}},
			{Name: "everything"},
		}); err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC().Truncate(time.Second)
		stripe, err := source.New(source.Settings{Name: "payments", Provider: "stripe", Secrets: []string{"whsec_right"}})
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}`)
		h, err := stripe.(source.Signer).Sign("", body, at, "evt_1")
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for k := range h {
			headers[k] = h.Get(k)
		}
		r := &store.Rejection{Source: "payments", ReceivedAt: at, Reason: "no_match", Headers: headers, Body: body, BodyBytes: int64(len(body))}
		if _, err := st.AddRejection(ctx, r, store.RejectionLimits{}); err != nil {
			t.Fatal(err)
		}

		in := inspect.New(st, nil).WithSources(map[string]source.Source{"payments": stripe})
		rep, err := in.Release(ctx, nil, []int64{r.ID})
		if err != nil || rep.Released != 1 {
			t.Fatalf("release = %+v, %v; want 1 released", rep, err)
		}
		got := destinationsOf(t, st, rep.Outcomes[0].EventID)
		if _, ok := got["sent-only"]; ok || len(got) != 1 {
			t.Errorf("released event of payments delivered to %v; want everything alone", got)
		}
	})
}

// A replay, a backfill and a released rejection pass over a destination
// whose filter refuses the event, as the receiver does, whichever way the
// event is named.
func TestReplayAndBackfillRouteByFilter(t *testing.T) {
	t.Parallel()
	bothStores(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		failed, err := filter.Compile(`status == "FAILED"`)
		if err != nil {
			t.Fatal(err)
		}
		// The event was stored for both destinations, then app's filter
		// was added.
		ev := storetest.NewEvent("sent", "k1")
		ev.Destinations = []string{"app", "log"}
		if _, err := st.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		other := storetest.NewEvent("sent", "k2")
		if _, err := st.Append(ctx, other); err != nil {
			t.Fatal(err)
		}
		now := time.Now().Add(time.Hour)
		claims, err := st.Claim(ctx, store.ClaimParams{Owner: "w", Now: now, Lease: time.Minute, Limit: 10})
		if err != nil || len(claims) != 2 {
			t.Fatalf("claim = %d, %v", len(claims), err)
		}
		var appDelivery int64
		for _, c := range claims {
			if c.Delivery.Destination == "app" {
				appDelivery = c.Delivery.ID
			}
			if err := st.Complete(ctx, store.Completion{DeliveryID: c.Delivery.ID, Owner: "w", Status: store.DeliverySucceeded, SpendAttempt: true, Now: now,
				Attempt: store.Attempt{StartedAt: now, Outcome: store.OutcomeSucceeded, StatusCode: 200}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := dispatch.RecordRoutes(ctx, st, []dispatch.Route{
			{Name: "app", Filter: failed},
			{Name: "log"},
			{Name: "late", Filter: failed},
		}); err != nil {
			t.Fatal(err)
		}
		in := inspect.New(st, func() time.Time { return now })

		for _, c := range []struct {
			name string
			t    inspect.Target
			want int
		}{
			{"by event", inspect.Target{EventIDs: []string{ev.ID}}, 1},
			{"by filter", inspect.Target{Filter: &inspect.Query{Filter: store.EventFilter{Type: ev.Type}}}, 1},
			{"by delivery", inspect.Target{DeliveryIDs: []int64{appDelivery}}, 0},
			{"to app", inspect.Target{EventIDs: []string{ev.ID}, Destination: "app"}, 0},
		} {
			n, err := in.Replay(ctx, c.t)
			if err != nil || n != c.want {
				t.Errorf("replay %s = %d, %v; want %d", c.name, n, err, c.want)
			}
			if got := destinationsOf(t, st, ev.ID); got["app"] != store.DeliverySucceeded || got["log"] != store.DeliveryPending {
				t.Errorf("after replay %s: %v; want app left succeeded, log pending", c.name, got)
			}
		}

		// The destination added later with the same filter: backfill gives
		// it none of the events its filter refuses.
		n, err := in.Backfill(ctx, "late", inspect.Query{})
		if err != nil || n != 0 {
			t.Errorf("backfill late = %d, %v; want 0", n, err)
		}
		if got := destinationsOf(t, st, ev.ID); len(got) != 2 || got["late"] != "" {
			t.Errorf("after backfill: %v; want app and log alone", got)
		}
		// Nor a destination whose sources exclude the event's.
		if err := dispatch.RecordRoutes(ctx, st, []dispatch.Route{{Name: "payments-only", Sources: []string{"payments"}}}); err != nil {
			t.Fatal(err)
		}
		if n, err := in.Backfill(ctx, "payments-only", inspect.Query{}); err != nil || n != 0 {
			t.Errorf("backfill payments-only = %d, %v; want 0", n, err)
		}
		// Whereas one that wants them gets them.
		if err := dispatch.RecordRoutes(ctx, st, []dispatch.Route{{Name: "sent-too", Sources: []string{"sent"}}}); err != nil {
			t.Fatal(err)
		}
		if n, err := in.Backfill(ctx, "sent-too", inspect.Query{}); err != nil || n != 2 {
			t.Errorf("backfill sent-too = %d, %v; want %d", n, err, 2)
		}
	})
}
