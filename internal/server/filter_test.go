package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store"
)

// A destination with a content filter is sent only the events it passes;
// the others are stored and acknowledged, with no delivery to it, and
// counted as filtered on /metrics.
func TestFilteredEventsAreNotDelivered(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
	}))
	defer app.Close()
	dest, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.Compile(`payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`)
	if err != nil {
		t.Fatal(err)
	}
	srv := start(t, server.Config{Routes: []dispatch.Route{{Name: "alerts", Destination: dest, Filter: f}}})

	raw, err := os.ReadFile("../../testdata/sent/f2.json") // whatsapp, SENT
	if err != nil {
		t.Fatal(err)
	}
	sent := post(t, srv, raw)
	failed := post(t, srv, []byte(strings.Replace(string(raw), `"SENT"`, `"FAILED"`, 1)))

	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ds, err := srv.Store().ListDeliveries(ctx, store.DeliveryFilter{EventID: failed})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].Status == store.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the FAILED event was not delivered: %+v", ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ds, err := srv.Store().ListDeliveries(ctx, store.DeliveryFilter{EventID: sent}); err != nil || len(ds) != 0 {
		t.Errorf("the SENT event has deliveries %+v (%v); want none", ds, err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0], `"FAILED"`) {
		t.Errorf("the app got %q; want the FAILED event alone", got)
	}
	mu.Unlock()
	if _, body := get(t, "http://"+srv.AdminAddr()+"/metrics"); !strings.Contains(body, `hooklatch_events_filtered_total{destination="alerts"} 1`) {
		t.Errorf("/metrics does not count the SENT event as filtered")
	}
	// The event's API and page say so, judged as they are read.
	admin := "http://" + srv.AdminAddr()
	for id, want := range map[string]string{sent: "[alerts]", failed: "[]"} {
		_, body := get(t, admin+"/v1/events/"+id)
		var d struct {
			FilteredOut []string `json:"filtered_out"`
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil || fmt.Sprint(d.FilteredOut) != want {
			t.Errorf("/v1/events/%s: filtered_out %v (%v), want %s", id, d.FilteredOut, err, want)
		}
	}
	if _, body := get(t, admin+"/ui/events/"+sent); !strings.Contains(body, `<dt>Filtered out by</dt><dd id="filtered-out">alerts</dd>`) {
		t.Errorf("the event page does not say it was filtered out by alerts")
	}
}
