package kafkadest_test

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/kafkadest"
)

func ExampleNew() {
	// An in-process cluster stands in for Kafka here.
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "sent-events"))
	defer cluster.Close()
	url := "kafka://" + cluster.ListenAddrs()[0] + "?topic=sent-events"

	cfg, err := kafkadest.ParseURL(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	dest, err := kafkadest.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dest.Close()
	o := destination.Classify(dest.Deliver(context.Background(), destinationtest.NewDelivery(1)))
	fmt.Println("hooklatch:", o.Class, o.Result.Response)

	// A worker reads the record: the raw body, keyed by the subject, with
	// the metadata as headers.
	worker, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()[0]), kgo.ConsumeTopics("sent-events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer worker.Close()
	rec := worker.PollFetches(context.Background()).Records()[0]
	fmt.Println("worker: key", string(rec.Key))
	for _, h := range rec.Headers[:3] {
		fmt.Printf("worker: %s: %s\n", h.Key, h.Value)
	}
	// Output:
	// hooklatch: succeeded stored in partition 0 at offset 0
	// worker: key 8ba7b830-9dad-11d1-80b4-000000000001
	// worker: hooklatch-event-id: 0199f1a2-7b3c-7d4e-8f5a-000000000001
	// worker: hooklatch-event-type: message.delivered
	// worker: hooklatch-subject: 8ba7b830-9dad-11d1-80b4-000000000001
}
