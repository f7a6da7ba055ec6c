package server_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
)

// closingDestination counts its Close calls, and fails them.
type closingDestination struct{ closes atomic.Int32 }

func (d *closingDestination) Deliver(context.Context, *destination.Delivery) error { return nil }
func (d *closingDestination) Close() error {
	d.closes.Add(1)
	return errors.New("confirmations lost")
}

// Shutdown closes the destinations that hold connections (the brokers),
// once, after the dispatcher has stopped, and reports what they said.
func TestShutdownClosesDestinations(t *testing.T) {
	t.Parallel()
	dest := new(closingDestination)
	srv := start(t, server.Config{Routes: []dispatch.Route{{Name: "broker", Destination: dest}}})
	if n := dest.closes.Load(); n != 0 {
		t.Fatalf("closed %d times while serving", n)
	}
	err := srv.Shutdown()
	if n := dest.closes.Load(); n != 1 {
		t.Errorf("closed %d times by Shutdown, want once", n)
	}
	if err == nil || !strings.Contains(err.Error(), "destination broker: confirmations lost") {
		t.Errorf("Shutdown = %v, want the destination's Close error", err)
	}
}
