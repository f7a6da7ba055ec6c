package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
)

// A destination whose circuit breaker opened is listed as open, by the
// API and on the dashboard's overview, where paused ones are.
func TestOpenBreakerIsShownOnTheOverview(t *testing.T) {
	t.Parallel()
	a := &apiServer{secret: testSecrets(t)[0]}
	a.Server = start(t, server.Config{Routes: []dispatch.Route{{
		Name: "app",
		Destination: destination.Func(func(context.Context, *destination.Delivery) error {
			return errors.New("503 from the app")
		}),
		Policy: dispatch.Policy{BreakerFailures: 1},
	}}})
	a.admin = "http://" + a.AdminAddr()
	if code, _ := a.send(t, a.secret, messageBody("message.delivered", "m1")); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	var listed struct {
		Destinations []struct{ Name, State string }
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code := a.call(t, "GET", "/v1/destinations", nil, &listed); code == http.StatusOK && len(listed.Destinations) == 1 && listed.Destinations[0].State == "open" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the breaker never showed open: %+v", listed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(a.admin + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if page := string(b); !strings.Contains(page, "(circuit breaker) since") {
		t.Fatalf("the overview does not show the open breaker:\n%s", page)
	}
}
