package cli

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/store"
)

// Where to forward is read as Stripe's and Hookdeck's CLIs read it.
func TestForwardURLShorthands(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/hooks": "http://127.0.0.1:8080/hooks",
		"https://app.example/hooks":   "https://app.example/hooks",
		"localhost:8080/hooks":        "http://localhost:8080/hooks",
		"127.0.0.1:8080":              "http://127.0.0.1:8080",
		"app.example/hooks?x=1":       "http://app.example/hooks?x=1",
		"8080":                        "http://localhost:8080",
		":8080":                       "http://localhost:8080",
		"8080/hooks":                  "http://localhost:8080/hooks",
		" 3000 ":                      "http://localhost:3000",
	} {
		got, err := forwardURL("--forward-to", in)
		if err != nil || got != want {
			t.Errorf("forwardURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x/y", "http://", "http:///path"} {
		if got, err := forwardURL("--forward-to", bad); err == nil || strings.Contains(err.Error(), "Config") {
			t.Errorf("forwardURL(%q) = %q, %v; want an error in the flag's terms", bad, got, err)
		}
	}
}

// serve --forward-to and a config file's http.url both take the
// shorthands, and the events reach the app.
func TestForwardShorthandsReachTheApp(t *testing.T) {
	t.Parallel()
	got := make(chan string, 2)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.URL.Path }))
	defer app.Close()
	_, port, _ := net.SplitHostPort(app.Listener.Addr().String())

	route, err := forwardRoute("127.0.0.1:"+port+"/from-flag", "", "v1", "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	file := &ConfigFile{Destinations: []DestinationConfig{{Name: "app",
		Blocks: []KindBlock{{Kind: httpdest.Kind, Block: &httpdest.Block{URL: port + "/from-file"}}}}}}
	routes, err := file.routes(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []destination.Destination{route.Destination, routes[0].Destination} {
		err := d.Deliver(context.Background(), &destination.Delivery{ID: 1, Attempt: 1, Event: &store.Event{EventData: store.EventData{ID: "e", Body: []byte("{}")}}})
		if o := destination.Classify(err); o.Class != destination.Succeeded {
			t.Fatalf("delivery: %v", err)
		}
	}
	if a, b := <-got, <-got; a != "/from-flag" || b != "/from-file" {
		t.Errorf("the app got %s and %s", a, b)
	}
}
