package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// sentEvent is the event the receiver builds from a fixture of Sent's
// (a whatsapp message, SENT), with its status in the body replaced.
func sentEvent(t *testing.T, status string) *store.NewEvent {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/sent/f2.json")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(raw), `"SENT"`, `"`+status+`"`, 1)
	return receiver.NewEvent("e-"+status, "sent", "v1", nil, []byte(body), t0)
}

func mustFilter(t testing.TB, src string) *filter.Filter {
	t.Helper()
	f, err := filter.Compile(src)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A destination with a filter gets only the events it passes; those it
// keeps out are counted, and one it cannot judge is delivered, counted
// and logged. A destination without one is not affected.
func TestRoutesFilterByContent(t *testing.T) {
	t.Parallel()
	nop := destination.Func(func(context.Context, *destination.Delivery) error { return nil })
	var logs logtest.Buffer
	metrics := dispatch.NewMetrics(nil)
	h := setup(t, []dispatch.Route{
		{Name: "alerts", Types: []string{"message.*"}, Destination: nop,
			Filter: mustFilter(t, `payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`)},
		{Name: "counts", Destination: nop, Filter: mustFilter(t, `payload.price > 0.01`)},
		{Name: "all", Destination: nop},
	}, func(c *dispatch.Config) {
		c.Metrics = metrics
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	})
	cases := []struct {
		ev   *store.NewEvent
		want string
	}{
		{sentEvent(t, "FAILED"), "[alerts counts all]"},
		{sentEvent(t, "BLOCKED"), "[alerts counts all]"},
		{sentEvent(t, "DELIVERED"), "[counts all]"},
		{receiver.NewEvent("e-bad", "sent", "v1", nil, []byte("not json"), t0), "[counts all]"},
	}
	for _, c := range cases {
		if got := fmt.Sprint(h.disp.Destinations(&c.ev.EventData)); got != c.want {
			t.Errorf("%s (%s) goes to %s, want %s", c.ev.ID, c.ev.Status, got, c.want)
		}
	}
	if got := testutil.ToFloat64(metrics.EventsFiltered.WithLabelValues("alerts")); got != 1 {
		t.Errorf("alerts filtered %v events, want 1 (DELIVERED; the unparseable one is not of its types)", got)
	}
	// payload.price is absent: nil > 0.01 cannot be judged, so every event
	// is delivered to counts, and counted and logged as such.
	if got := testutil.ToFloat64(metrics.FilterErrors.WithLabelValues("counts")); got != 4 {
		t.Errorf("counts could not judge %v events, want 4", got)
	}
	if got := testutil.ToFloat64(metrics.EventsFiltered.WithLabelValues("counts")); got != 0 {
		t.Errorf("counts filtered %v events, want 0", got)
	}
	if !strings.Contains(logs.String(), `"msg":"dispatch: the filter of counts could not judge an event`) ||
		!strings.Contains(logs.String(), `"filter":"payload.price > 0.01"`) {
		t.Errorf("the filter error is not logged with the filter: %s", logs.String())
	}
}

// BenchmarkDestinations is what routing costs the acknowledgement of one
// event: a destination without a filter, with the example filter, and
// with a filter that reads no payload (the body is not decoded).
func BenchmarkDestinations(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "h.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	raw, err := os.ReadFile("../../testdata/sent/f2.json")
	if err != nil {
		b.Fatal(err)
	}
	ev := receiver.NewEvent("e", "sent", "v1", nil, []byte(strings.Replace(string(raw), `"SENT"`, `"FAILED"`, 1)), t0)
	nop := destination.Func(func(context.Context, *destination.Delivery) error { return nil })
	for _, c := range []struct{ name, filter string }{
		{"none", ""},
		{"payload", `payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`},
		{"status", `field == "message" && status in ["FAILED","BLOCKED"]`},
	} {
		route := dispatch.Route{Name: "app", Types: []string{"message.*"}, Destination: nop}
		if c.filter != "" {
			route.Filter = mustFilter(b, c.filter)
		}
		d, err := dispatch.New(dispatch.Config{Store: st, Routes: []dispatch.Route{route}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if len(d.Destinations(&ev.EventData)) != 1 {
					b.Fatal("not routed")
				}
			}
		})
	}
}
