package hooklatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hooklatch/hooklatch"
	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/source"
)

// sendAsStripe posts body to url signed as Stripe signs it with secret,
// and returns the status of the answer.
func sendAsStripe(url, secret string, body []byte) int {
	stripe, _ := source.New(source.Settings{Name: "stripe", Provider: "stripe", Secrets: []string{secret}})
	h, _ := stripe.(source.Signer).Sign(url, body, time.Now(), "")
	return postWith(url, body, h)
}

// A relay that receives Stripe's webhooks beside Sent's: each handler
// takes the events of its Sources, and of those only what its Filter
// passes, as a destination's sources: and filter: do in the config file.
func ExampleConfig_sources() {
	dir, _ := os.MkdirTemp("", "hooklatch-example")
	defer os.RemoveAll(dir)
	const stripeSecret = "whsec_stripe-example" // os.Getenv("STRIPE_WEBHOOK_SECRET")
	handled := make(chan string)
	handle := hooklatch.HandlerFunc(func(ctx context.Context, ev *hooklatch.Event) error {
		handled <- ev.Source + " " + ev.Type
		return nil
	})
	relay, err := hooklatch.New(hooklatch.Config{
		Secrets: []string{secret}, // Sent's, as "sent"
		Sources: []hooklatch.Source{{
			Name: "payments", Provider: "stripe", Path: "/webhooks/stripe", Secrets: []string{stripeSecret},
		}},
		Store:  filepath.Join(dir, "hooklatch.db"),
		Logger: slog.New(slog.DiscardHandler),
		Handlers: []hooklatch.Route{
			{Name: "billing", Sources: []string{"payments"}, Filter: `type startsWith "invoice."`, Handler: handle},
			{Name: "alerts", Sources: []string{"sent"}, Filter: `status in ["FAILED", "BLOCKED"]`, Handler: handle},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, stop := serve(relay) // mux.Handle("/webhooks/", relay.Handler())
	defer stop()

	fmt.Println("stripe invoice.paid answered", sendAsStripe(url+"/webhooks/stripe", stripeSecret,
		[]byte(`{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}}}`)))
	fmt.Println("stripe customer.created answered", sendAsStripe(url+"/webhooks/stripe", stripeSecret,
		[]byte(`{"id":"evt_2","type":"customer.created","data":{"object":{"id":"cus_1"}}}`)))
	failed, _ := event.Sample("message.failed", event.SampleOptions{})
	fmt.Println("sent message.failed answered", sendAsSent(url+"/webhooks/sent", failed))
	fmt.Println("sent message.delivered answered", sendAsSent(url+"/webhooks/sent", sampleStatus("m-1")))

	got := []string{<-handled, <-handled}
	slices.Sort(got)
	fmt.Println("handled:", got)
	// Deliveries are made when an event is stored: the two events the
	// filters refused have none.
	stats, _ := relay.Store().Stats(context.Background())
	deliveries := int64(0)
	for _, n := range stats.Deliveries {
		deliveries += n
	}
	fmt.Println("events", stats.Events, "deliveries", deliveries)
	// Output:
	// stripe invoice.paid answered 200
	// stripe customer.created answered 200
	// sent message.failed answered 200
	// sent message.delivered answered 200
	// handled: [payments invoice.paid sent message.failed]
	// events 4 deliveries 2
}
