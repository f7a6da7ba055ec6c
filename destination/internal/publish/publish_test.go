package publish

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Close waits for every publish admitted, and nothing is admitted after.
func TestGateCloseWaitsForThoseAdmitted(t *testing.T) {
	t.Parallel()
	g := NewGate(2)
	if err := g.Enter(t.Context()); err != nil {
		t.Fatal(err)
	}
	closed := make(chan bool)
	go func() { closed <- g.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned with a publish in flight")
	case <-time.After(50 * time.Millisecond): // long enough for a wrong Close to return
	}
	g.Leave()
	if !<-closed {
		t.Error("the first Close reported the gate closed already")
	}
	if err := g.Enter(t.Context()); !errors.Is(err, ErrClosed) {
		t.Errorf("Enter after Close: %v, want ErrClosed", err)
	}
	if g.Close() {
		t.Error("a second Close reported closing the gate")
	}
}

// The bound holds: a publish beyond it waits, and gives up with its
// context.
func TestGateBoundsPublishesInFlight(t *testing.T) {
	t.Parallel()
	g := NewGate(1)
	if err := g.Enter(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := Attempt(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := g.Enter(ctx)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Enter beyond the bound: %v, want the attempt's timeout", err)
	}
	g.Leave()
	if err := g.Enter(t.Context()); err != nil {
		t.Fatalf("Enter once the slot is free: %v", err)
	}
}
