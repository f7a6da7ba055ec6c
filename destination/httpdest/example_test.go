package httpdest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/signature"
)

func ExampleNew() {
	secret, _ := signature.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

	// The app: it verifies what hooklatch forwards with the same code it
	// would use for Sent, and deduplicates on X-Webhook-Id.
	verifier, _ := signature.NewVerifier(signature.Config{Secrets: []signature.Secret{secret}})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := verifier.Verify(r.Header, body)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		fmt.Println("app: verified", res.WebhookID)
		fmt.Println("app:", r.Header.Get("Hooklatch-Event-Type"), "attempt", r.Header.Get("Hooklatch-Attempt"))
		fmt.Println("app: Sent's event id", r.Header.Get("X-Sent-Webhook-Event-Id"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()

	dest, err := httpdest.New(httpdest.Config{URL: app.URL, Secret: secret})
	if err != nil {
		fmt.Println(err)
		return
	}
	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println("hooklatch:", o.Class, o.Result.StatusCode)
	// Output:
	// app: verified 0199f1a2-7b3c-7d4e-8f5a-000000000001
	// app: message.delivered attempt 1
	// app: Sent's event id evt_000001
	// hooklatch: succeeded 204
}
