package execdest_test

import (
	"context"
	"fmt"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/execdest"
)

func ExampleNew() {
	// A handler in shell: the event arrives on stdin, its details in the
	// environment; exit 65 would send it to dead, 75 would retry it.
	dest, err := execdest.New(execdest.Config{
		Command: []string{"sh", "-c", `printf '%s #%s: ' "$HOOKLATCH_EVENT_TYPE" "$HOOKLATCH_ATTEMPT"; head -c 40`},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println(o.Class, o.Result.StatusCode)
	fmt.Println(o.Result.Response)
	// Output:
	// succeeded 0
	// message.delivered #1: {"sub_type":"message.delivered", "field"
}
