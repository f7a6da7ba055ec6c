package destinationtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// TestRunInMemory runs the suite against the simplest correct destination,
// a function: it shows what a harness looks like and that the suite passes
// a destination that does the right thing.
func TestRunInMemory(t *testing.T) {
	t.Parallel()
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, b destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			rec := new(destinationtest.Recorder)
			return destination.Func(func(ctx context.Context, d *destination.Delivery) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				rec.Record(destinationtest.Received{EventID: d.Event.ID, Body: d.Event.Body})
				switch b {
				case destinationtest.FailTemporary:
					return errors.New("busy")
				case destinationtest.FailPermanent:
					return destination.Permanent(errors.New("rejected"))
				case destinationtest.Hang:
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}), rec
		},
	})
}

func TestRecorderWaitsForRecords(t *testing.T) {
	t.Parallel()
	var rec destinationtest.Recorder
	go func() {
		for _, id := range []string{"a", "b"} {
			rec.Record(destinationtest.Received{EventID: id})
		}
	}()
	got, err := rec.Received(t.Context(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].EventID != "a" || got[1].EventID != "b" {
		t.Fatalf("Received = %v, want a then b", got)
	}
}

func TestRecorderGivesUpWithContext(t *testing.T) {
	t.Parallel()
	var rec destinationtest.Recorder
	rec.Record(destinationtest.Received{EventID: "a"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := rec.Received(ctx, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d records, want the 1 seen so far", len(got))
	}
}

func TestNewDeliveryIsDistinct(t *testing.T) {
	t.Parallel()
	a, b := destinationtest.NewDelivery(1), destinationtest.NewDelivery(2)
	if a.Event.ID == b.Event.ID || a.Event.DedupeKey == b.Event.DedupeKey || string(a.Event.Body) == string(b.Event.Body) {
		t.Fatalf("deliveries 1 and 2 share an id, key or body")
	}
	if a.Attempt != 1 {
		t.Fatalf("Attempt = %d, want 1", a.Attempt)
	}
}
