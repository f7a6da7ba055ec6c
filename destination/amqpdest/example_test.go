package amqpdest_test

import (
	"context"
	"fmt"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/amqpdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// Deliver events to a RabbitMQ exchange, declaring it and a queue bound to it. (It needs the broker, so it is not run.)
func ExampleNew() {
	cfg, err := amqpdest.ParseURL("amqp://guest:guest@127.0.0.1:5672/?exchange=sent&exchange_type=topic&queue=workers&routing_key=sent.%23") // %23 is #
	if err != nil {
		fmt.Println(err)
		return
	}
	dest, err := amqpdest.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dest.Close() // waits for the confirmations in flight

	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println(o.Class, o.Result.Response, o.Err)
}
