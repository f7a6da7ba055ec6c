package bench

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/postgres"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// The growth benchmark measures every page the dashboard serves and every
// GET the admin API describes: a page or call added later without a
// measurement fails here.
func TestGrowthOpsReadEveryPageAndList(t *testing.T) {
	ops := Ops(Sample{ID: "0190a0b0-c0d0-7000-8000-0000000000aa", DedupeKey: "event-id:x", Subject: "s", Seq: 10, RejectionID: 1})
	measured := func(route string) bool {
		for _, op := range ops {
			if op.Name == route || strings.HasPrefix(op.Name, route+" ") {
				return true
			}
		}
		return false
	}
	var routes []string
	api, err := os.ReadFile(filepath.Join("..", "admin", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(/v1/[^"]*)"\s*:\s*\{\s*"get"`).FindAllStringSubmatch(string(api), -1) {
		routes = append(routes, m[1])
	}
	ui, err := os.ReadFile(filepath.Join("..", "admin", "ui.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"GET (/ui/[^"]*)"`).FindAllStringSubmatch(string(ui), -1) {
		routes = append(routes, strings.TrimSuffix(m[1], "{$}"))
	}
	if len(routes) < 10 {
		t.Fatalf("found only %d routes (%v): the patterns no longer match how admin declares them", len(routes), routes)
	}
	for _, r := range routes {
		switch r {
		case "/v1/openapi.json", "/v1/stream", "/ui/static/": // a constant file, a stream, assets
			continue
		}
		if !measured(r) {
			t.Errorf("%s is served but bench growth does not measure it: add it to Ops", r)
		}
	}
}

// Grow stores the mix a real sender produces and settles its deliveries:
// every share the measured filters select is present, and nothing is left
// due.
func TestGrowStoresTheMixAndSettlesDeliveries(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "grown.db"), sqlite.Options{Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		checkGrow(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		checkGrow(t, st)
	})
}

func checkGrow(t *testing.T, st store.Store) {
	ctx := context.Background()
	const target = 3000
	res, err := Grow(ctx, st, target, signature.NewSecret(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := AddRejections(ctx, st); err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Events != res.Stored || res.Stored < target {
		t.Errorf("Grow says it stored %d events, the store holds %d; want at least %d", res.Stored, stats.Events, target)
	}
	if stats.Duplicates == 0 || stats.Attention == 0 || stats.Rejections == 0 {
		t.Errorf("want duplicates, events for attention and rejections in the mix; stats %+v", stats)
	}
	d := stats.Deliveries
	if d[store.DeliveryDead] == 0 || d[store.DeliveryPending] == 0 || d[store.DeliverySucceeded] < target/2 {
		t.Errorf("want dead, pending and mostly succeeded deliveries; got %v", d)
	}
	if d[store.DeliveryInFlight] != 0 {
		t.Errorf("%d deliveries left in flight; want every claim completed", d[store.DeliveryInFlight])
	}
	if due, ok, err := st.NextDue(ctx); err != nil || (ok && !due.After(time.Now())) {
		t.Errorf("a delivery is due at %v (%v, %v); want none before the retries RetryDelay ahead", due, ok, err)
	}
	subjects, err := st.ListEvents(ctx, store.EventFilter{Type: "message.*", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range subjects {
		seen[e.Subject]++
	}
	if len(seen) == 0 || len(seen) == len(subjects) {
		t.Errorf("%d message events about %d messages; want several events about some messages", len(subjects), len(seen))
	}
}

func TestParseGrowthCount(t *testing.T) {
	if got := Count(2_050_000); got != "2.05M" {
		t.Errorf("Count(2050000) = %q", got)
	}
	if got := Count(20_100); got != "20.1k" {
		t.Errorf("Count(20100) = %q", got)
	}
}
