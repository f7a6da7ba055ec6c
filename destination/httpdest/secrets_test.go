package httpdest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/signature"
)

// With several secrets, a v1 request carries a signature for each, and an
// app holding any one of them verifies it; a legacy request, which has
// room for one, is signed with the first.
func TestDeliverSignsWithEverySecret(t *testing.T) {
	t.Parallel()
	first, second := newSecret(t), newSecret(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv, got := recordingApp(t)
	verifies := func(scheme signature.Scheme, s signature.Secret, r received) error {
		v, err := signature.NewVerifier(signature.Config{Secrets: []signature.Secret{s}, Schemes: []signature.Scheme{scheme}, NowFunc: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(r.header, r.body)
		return err
	}

	v1 := newDest(t, httpdest.Config{URL: srv.URL, Secrets: []signature.Secret{first, second}, NowFunc: func() time.Time { return now }})
	if err := destination.Classify(v1.Deliver(t.Context(), destinationtest.NewDelivery(1))).Err; err != nil {
		t.Fatal(err)
	}
	r := <-got
	if sigs := strings.Split(r.header.Get(signature.HeaderSignature), " "); len(sigs) != 2 || !strings.HasPrefix(sigs[1], "v1,") {
		t.Errorf("X-Webhook-Signature = %q, want two v1 signatures, space-separated", r.header.Get(signature.HeaderSignature))
	}
	if r.header.Get(httpdest.HeaderStandardSignature) != r.header.Get(signature.HeaderSignature) {
		t.Errorf("Webhook-Signature differs from X-Webhook-Signature")
	}
	for i, s := range []signature.Secret{first, second} {
		if err := verifies(signature.V1, s, r); err != nil {
			t.Errorf("an app holding secret %d: %v", i+1, err)
		}
	}

	legacy := newDest(t, httpdest.Config{URL: srv.URL, Secret: first, Secrets: []signature.Secret{second}, Scheme: signature.Legacy})
	if err := destination.Classify(legacy.Deliver(t.Context(), destinationtest.NewDelivery(2))).Err; err != nil {
		t.Fatal(err)
	}
	r = <-got
	if err := verifies(signature.Legacy, first, r); err != nil {
		t.Errorf("legacy, an app holding the first secret: %v", err)
	}
	if err := verifies(signature.Legacy, second, r); err == nil {
		t.Errorf("legacy: signed with the second secret, want the first alone")
	}
}

// received is a request an app got.
type received struct {
	header http.Header
	body   []byte
}

// recordingApp is an app that answers 200 and hands over each request it
// gets.
func recordingApp(t *testing.T) (*httptest.Server, <-chan received) {
	got := make(chan received, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header, body}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}
