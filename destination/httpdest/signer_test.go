package httpdest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// TestSignerSignsAsTheProvider: with a Signer, each attempt is signed as
// the provider signs, over the destination's URL, and carries the
// provider's stored headers under their names, but neither the transport's
// nor the proxies' headers nor a stored signature, and never in place of
// hooklatch's own.
func TestSignerSignsAsTheProvider(t *testing.T) {
	t.Parallel()
	src, err := source.New(source.Settings{Name: "gh", Provider: "github", Secrets: []string{"app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *http.Request, 1)
	var verr error
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, verr = src.Verify(r, body)
		got <- r
	}))
	defer app.Close()
	d, err := httpdest.New(httpdest.Config{URL: app.URL, Signer: src.(source.Signer)})
	if err != nil {
		t.Fatal(err)
	}
	ev := &store.Event{EventData: store.EventData{ID: "01HX", Source: "gh", Scheme: "github", Body: []byte(`{"ref":"refs/heads/main"}`), Headers: map[string]string{
		"x-github-event": "push", "x-github-delivery": "d-1", "x-hub-signature-256": "sha256=stale", "x-hub-signature": "sha1=stale",
		"content-type": "application/json", "x-forwarded-for": "10.0.0.1", "via": "1.1 proxy", "content-length": "999",
		"hooklatch-event-id": "spoofed",
	}}}
	if err := d.Deliver(context.Background(), &destination.Delivery{ID: 1, Attempt: 1, Event: ev}); destination.Classify(err).Class != destination.Succeeded {
		t.Fatal(err)
	}
	r := <-got
	if verr != nil {
		t.Errorf("the app could not verify: %v", verr)
	}
	for name, want := range map[string]string{"X-Github-Event": "push", "X-Github-Delivery": "d-1", "X-Forwarded-For": "", "Via": "", "X-Hub-Signature": "",
		httpdest.HeaderEventID: "01HX", httpdest.HeaderSource: "gh"} {
		if v := r.Header.Get(name); v != want {
			t.Errorf("%s: %q, want %q", name, v, want)
		}
	}
}
