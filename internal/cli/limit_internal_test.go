package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// ?rate= and ?concurrency= are read from any kind's URL, as ?order=subject
// is, and removed before the kind sees it: a broker kind, which refuses
// parameters it does not know, accepts the URL.
func TestLimitParametersAreCutFromAnyURL(t *testing.T) {
	t.Parallel()
	rest, p := cutParams("http://127.0.0.1:8080/hooks?a=1&rate=50/s&concurrency=4&order=subject#f")
	if rest != "http://127.0.0.1:8080/hooks?a=1#f" || p != (destParams{ordered: true, rate: "50/s", concurrency: "4"}) {
		t.Errorf("cutParams = %q, %+v", rest, p)
	}
	route, err := forwardRoute("redis://127.0.0.1:6379/0?stream=s&rate=600%2Fm&concurrency=4", "", "v1", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := (dispatch.Rate{Events: 600, Per: time.Minute}); route.Policy.Rate != want || route.Policy.Concurrency != 4 {
		t.Errorf("--forward-to redis…&rate=600/m&concurrency=4: rate %v, concurrency %d", route.Policy.Rate, route.Policy.Concurrency)
	}
	for _, bad := range []string{"http://127.0.0.1:1/?rate=fast", "http://127.0.0.1:1/?rate=5/d", "http://127.0.0.1:1/?concurrency=0"} {
		if _, err := forwardRoute(bad, "", "v1", "", 5*time.Second); err == nil {
			t.Errorf("--forward-to %s accepted", bad)
		}
	}
}

// A config file entry sets rate and concurrency as keys or in its URL;
// both, differing, is an error naming the entry.
func TestConfigFileLimits(t *testing.T) {
	t.Parallel()
	entry := func(rate string, conc int, url string) *ConfigFile {
		return &ConfigFile{Destinations: []DestinationConfig{{Name: "app", Rate: rate, Concurrency: conc,
			Blocks: []KindBlock{{Kind: httpdest.Kind, Block: &httpdest.Block{URL: url}}}}}}
	}
	perSecond := dispatch.Rate{Events: 50, Per: time.Second}
	for _, tc := range []struct {
		file *ConfigFile
		rate dispatch.Rate
		conc int
	}{
		{entry("50/s", 4, "http://127.0.0.1:1/"), perSecond, 4},
		{entry("", 0, "http://127.0.0.1:1/?rate=50/s&concurrency=4"), perSecond, 4},
		{entry("50/s", 4, "http://127.0.0.1:1/?rate=50/s&concurrency=4"), perSecond, 4},
		{entry("", 0, "http://127.0.0.1:1/"), dispatch.Rate{}, 0},
		{&ConfigFile{Destinations: []DestinationConfig{{Name: "q", Blocks: []KindBlock{{Kind: redisdest.Kind,
			Block: &redisdest.Block{URL: "redis://127.0.0.1:6379/0?rate=50/s", Stream: "s"}}}}}}, perSecond, 0},
	} {
		routes, err := tc.file.routes(nil)
		if err != nil || routes[0].Policy.Rate != tc.rate || routes[0].Policy.Concurrency != tc.conc {
			t.Errorf("%+v: %v", tc.file.Destinations[0], err)
			continue
		}
	}
	if _, err := entry("50/s", 0, "http://127.0.0.1:1/?rate=10/s").routes(nil); err == nil || !strings.Contains(err.Error(), "destinations[0] (app): rate is 50/s in the entry and 10/s in the URL") {
		t.Errorf("rate in both, differing: %v", err)
	}
	if _, err := entry("50/x", 0, "http://127.0.0.1:1/").routes(nil); err == nil || !strings.Contains(err.Error(), `destinations[0] (app): rate "50/x"`) {
		t.Errorf("rate: 50/x: %v", err)
	}
}

// ?concurrency=2 on the URL bounds the requests an app has in flight at
// once, as the app itself counts them.
func TestConcurrencyParameterBoundsTheApp(t *testing.T) {
	t.Parallel()
	var now, peak, served atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // long enough for the others to pile up, were they let through
		now.Add(-1)
		served.Add(1)
	}))
	defer app.Close()
	route, err := forwardRoute(app.URL+"/?concurrency=2", "", "v1", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := dispatch.New(dispatch.Config{Store: st, Routes: []dispatch.Route{route}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		ev := storetest.NewEvent("sent", fmt.Sprint("c", i))
		ev.Destinations = d.Destinations(&ev.EventData)
		if _, err := st.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for served.Load() < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 served", served.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("the app had %d requests in flight at once, with concurrency=2", p)
	}
}

// breaker_failures in a config file entry: absent is the default, 0 turns
// the breaker off (a Policy's -1), a negative count is an error.
func TestConfigFileBreakerFailures(t *testing.T) {
	t.Parallel()
	entry := func(n *int) *ConfigFile {
		return &ConfigFile{Destinations: []DestinationConfig{{Name: "app", BreakerFailures: n,
			Blocks: []KindBlock{{Kind: httpdest.Kind, Block: &httpdest.Block{URL: "http://127.0.0.1:1/"}}}}}}
	}
	ptr := func(n int) *int { return &n }
	for _, tc := range []struct {
		n    *int
		want int
	}{{nil, 0}, {ptr(0), -1}, {ptr(3), 3}} {
		routes, err := entry(tc.n).routes(nil)
		if err != nil {
			t.Errorf("breaker_failures %v: %v", tc.n, err)
		} else if got := routes[0].Policy.BreakerFailures; got != tc.want {
			t.Errorf("breaker_failures %v: policy %d, want %d", tc.n, got, tc.want)
		}
	}
	if _, err := entry(ptr(-1)).routes(nil); err == nil || !strings.Contains(err.Error(), "breaker_failures") {
		t.Errorf("breaker_failures: -1: %v", err)
	}
}
