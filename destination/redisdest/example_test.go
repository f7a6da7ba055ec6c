package redisdest_test

import (
	"context"
	"fmt"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
)

// Deliver events to a Redis stream. (It needs the broker, so it is not run.)
func ExampleNew() {
	cfg, err := redisdest.ParseURL("redis://127.0.0.1:6379/0?stream=sent-events&maxlen=100000")
	if err != nil {
		fmt.Println(err)
		return
	}
	dest, err := redisdest.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dest.Close() // waits for the confirmations in flight

	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println(o.Class, o.Result.Response, o.Err)
}
