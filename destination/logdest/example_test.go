package logdest_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/logdest"
)

func ExampleNew() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	dest := logdest.New(logger)

	_ = dest.Deliver(context.Background(), destinationtest.NewDelivery(1))
	// Output:
	// level=INFO msg=event event_id=0199f1a2-7b3c-7d4e-8f5a-000000000001 type=message.delivered subject_kind=message_id subject=8ba7b830-9dad-11d1-80b4-000000000001 status=DELIVERED source=sent attempt=1 dedupe_key=evt_000001 stale=false subject_status=DELIVERED
}
