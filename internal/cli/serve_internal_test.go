package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/store"
)

// --forward-timeout bounds the http destination itself, not only the
// dispatcher's attempt: the destination's own default must not win.
func TestForwardTimeoutReachesTheDestination(t *testing.T) {
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer app.Close()
	defer close(release)

	route, err := forwardRoute(app.URL, "", "v1", "", 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if route.Policy.Timeout != 150*time.Millisecond {
		t.Errorf("policy timeout %s, want 150ms", route.Policy.Timeout)
	}
	err = route.Destination.Deliver(context.Background(), &destination.Delivery{ID: 1, Attempt: 1, Event: &store.Event{ID: "e", Body: []byte("{}")}})
	if err == nil || !strings.Contains(err.Error(), "no answer within 150ms") {
		t.Errorf("Deliver to a hanging app: %v, want the 150ms timeout", err)
	}
}
