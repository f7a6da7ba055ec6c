package natsdest_test

import (
	"context"
	"fmt"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/natsdest"
)

// Deliver events to a JetStream stream, creating it when missing. (It needs the broker, so it is not run.)
func ExampleNew() {
	cfg, err := natsdest.ParseURL("nats://127.0.0.1:4222?subject=sent.events&stream=SENT")
	if err != nil {
		fmt.Println(err)
		return
	}
	dest, err := natsdest.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dest.Close() // waits for the confirmations in flight

	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println(o.Class, o.Result.Response, o.Err)
}
