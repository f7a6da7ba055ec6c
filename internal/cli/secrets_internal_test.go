package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/store"
)

// While an app rotates its secret, --forward-secret and a destination's
// secret: take the old and the new, separated by spaces or commas, and
// every forwarded request verifies with either, checked by the Standard
// Webhooks library an app would use.
func TestForwardSecretsSignWithEach(t *testing.T) {
	const (
		oldSecret = "whsec_b2xkLWFwcC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg=="
		newSecret = "whsec_bmV3LWFwcC1zZWNyZXQtMDEyMzQ1Njc4OWFiY2RlZg=="
	)
	type received struct {
		header http.Header
		body   []byte
	}
	got := make(chan received, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
	}))
	defer app.Close()

	config := filepath.Join(t.TempDir(), "hooklatch.yaml")
	yaml := "destinations:\n  - name: app\n    http: {url: \"" + app.URL + "\", secret: \"" + oldSecret + ", " + newSecret + "\"}\n"
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"flag, commas":            {"--forward-to", app.URL, "--forward-secret", oldSecret + "," + newSecret},
		"flag, spaces":            {"--forward-to", app.URL, "--forward-secret", oldSecret + "  " + newSecret},
		"config file secret: key": {"--config", config},
	} {
		opts, err := resolveServeArgs(t, args, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev := &store.Event{EventData: store.EventData{ID: "evt_1", Body: []byte(`{"field":"message"}`)}}
		if err := destination.Classify(opts.Server.Routes[0].Destination.Deliver(context.Background(), &destination.Delivery{ID: 1, Attempt: 1, Event: ev})).Err; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := <-got
		if sigs := strings.Fields(r.header.Get("Webhook-Signature")); len(sigs) != 2 {
			t.Errorf("%s: Webhook-Signature %q, want two signatures", name, r.header.Get("Webhook-Signature"))
		}
		for _, secret := range []string{oldSecret, newSecret} {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(r.body, r.header); err != nil {
				t.Errorf("%s: an app holding %s…: %v", name, secret[:12], err)
			}
		}
	}
}
