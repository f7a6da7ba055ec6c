package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// The destinations of the ordering tests: fifo orders by subject, par
// does not. Stores given to CheckOrderedClaims record them.
var OrderedRoutes = []store.Route{{Name: "fifo", Order: store.OrderSubject}, {Name: "par"}}

// RunOrder runs the tests of store.OrderSubject (Run runs them too).
func RunOrder(t *testing.T, factory Factory) {
	t.Run("OrderOneAtATimeInRankOrder", func(t *testing.T) { t.Parallel(); testOrderRankOrder(t, factory) })
	t.Run("OrderRetryHoldsOnlyItsSubject", func(t *testing.T) { t.Parallel(); testOrderRetryHolds(t, factory) })
	t.Run("OrderDeadAndDiscardRelease", func(t *testing.T) { t.Parallel(); testOrderRelease(t, factory) })
	t.Run("OrderLeaseExpiryReleases", func(t *testing.T) { t.Parallel(); testOrderLeaseExpiry(t, factory) })
	t.Run("OrderRequeueWaitsItsTurn", func(t *testing.T) { t.Parallel(); testOrderRequeue(t, factory) })
	t.Run("OrderAddedDeliveries", func(t *testing.T) { t.Parallel(); testOrderAdded(t, factory) })
	t.Run("OrderConcurrentClaimers", func(t *testing.T) { t.Parallel(); testOrderConcurrent(t, factory) })
}

// openOrdered opens a store whose routes order fifo by subject.
func openOrdered(t *testing.T, factory Factory) store.Store {
	t.Helper()
	s, _ := open(t, factory)
	if err := s.SetRoutes(context.Background(), OrderedRoutes); err != nil {
		t.Fatal(err)
	}
	return s
}

// appendStatus stores a message event of subject with status, received
// at t0 plus received, to fifo and par.
func appendStatus(t *testing.T, s store.Store, subject, status string, received time.Duration) *store.Event {
	t.Helper()
	ev := NewEvent("sent", subject+"-"+status)
	ev.Subject, ev.Status, ev.Type = subject, status, "message."+status
	ev.ReceivedAt = t0.Add(received)
	ev.Destinations = []string{"fifo", "par"}
	return Appended(ev, mustAppend(t, s, ev))
}

// claimed claims what is due at now for w and says it as
// "destination:subject/status", sorted, with the claims by that name.
// The unordered destination's deliveries succeed at once.
func claimed(t *testing.T, s store.Store, w string, now time.Time) ([]string, map[string]store.Claim) {
	t.Helper()
	got := claim(t, s, w, now, 100)
	var names []string
	by := map[string]store.Claim{}
	for _, c := range got {
		name := c.Delivery.Destination + ":" + c.Event.Subject + "/" + c.Event.Status
		names = append(names, name)
		by[name] = c
		if c.Delivery.Destination == "par" {
			complete(t, s, c, store.DeliverySucceeded, now)
		}
	}
	slices.Sort(names)
	return names, by
}

func complete(t *testing.T, s store.Store, c store.Claim, status store.DeliveryStatus, next time.Time) {
	t.Helper()
	err := s.Complete(context.Background(), store.Completion{DeliveryID: c.Delivery.ID, Owner: c.Delivery.LeaseOwner, Status: status,
		NextAttemptAt: next, SpendAttempt: true, Now: next,
		Attempt: store.Attempt{StartedAt: next, Outcome: map[store.DeliveryStatus]store.AttemptOutcome{store.DeliveryPending: store.OutcomeTemporary,
			store.DeliverySucceeded: store.OutcomeSucceeded, store.DeliveryDead: store.OutcomePermanent}[status]}})
	if err != nil {
		t.Fatal(err)
	}
}

func wantClaimed(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: claimed %q, want %q", what, got, want)
	}
}

// A subject's events go to an ordered destination one at a time, lowest
// rank first whatever order they arrived in; an event received later
// with a lower rank goes before those not yet claimed. The unordered
// destination takes them all at once, and so does the ordered one for
// events with no subject.
func testOrderRankOrder(t *testing.T, factory Factory) {
	s := openOrdered(t, factory)
	appendStatus(t, s, "a", "DELIVERED", 0)
	appendStatus(t, s, "a", "SENT", 1)
	appendStatus(t, s, "b", "READ", 2)
	appendStatus(t, s, "a", "QUEUED", 3)
	bare := NewEvent("sent", "bare")
	bare.Subject, bare.SubjectKind, bare.ReceivedAt, bare.Destinations = "", "", t0, []string{"fifo"}
	mustAppend(t, s, bare)
	bare2 := NewEvent("sent", "bare2")
	bare2.Subject, bare2.SubjectKind, bare2.ReceivedAt, bare2.Destinations = "", "", t0, []string{"fifo"}
	mustAppend(t, s, bare2)

	got, by := claimed(t, s, "w", t0.Add(time.Minute))
	wantClaimed(t, "first claim", got, "fifo:/DELIVERED", "fifo:/DELIVERED", "fifo:a/QUEUED", "fifo:b/READ",
		"par:a/DELIVERED", "par:a/QUEUED", "par:a/SENT", "par:b/READ")
	if again, _ := claimed(t, s, "w", t0.Add(time.Minute)); len(again) != 0 {
		t.Errorf("claimed while the subjects are in flight: %q", again)
	}
	// A lower rank received now waits for the one in flight, then goes
	// before the higher ranks received earlier.
	appendStatus(t, s, "a", "PROCESSED", 4)
	complete(t, s, by["fifo:a/QUEUED"], store.DeliverySucceeded, t0.Add(time.Minute))
	for i, want := range []string{"PROCESSED", "SENT", "DELIVERED"} {
		got, by = claimed(t, s, "w", t0.Add(time.Minute))
		if i == 0 {
			wantClaimed(t, want, got, "fifo:a/"+want, "par:a/"+want)
		} else {
			wantClaimed(t, want, got, "fifo:a/"+want)
		}
		if c, ok := by["fifo:a/"+want]; ok {
			complete(t, s, c, store.DeliverySucceeded, t0.Add(time.Minute))
		}
	}
	if got, _ := claimed(t, s, "w", t0.Add(time.Minute)); len(got) != 0 {
		t.Errorf("claimed after the subject was done: %q", got)
	}
}

// A delivery waiting for a retry holds back its subject's later ones and
// no other subject's; it is claimed when due, before them. Stats counts
// its subject held.
func testOrderRetryHolds(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := openOrdered(t, factory)
	appendStatus(t, s, "a", "SENT", 0)
	appendStatus(t, s, "a", "DELIVERED", 0)
	appendStatus(t, s, "b", "SENT", 0)
	appendStatus(t, s, "b", "DELIVERED", 0)
	now := t0.Add(time.Second)
	got, by := claimed(t, s, "w", now)
	wantClaimed(t, "first claim", got, "fifo:a/SENT", "fifo:b/SENT", "par:a/DELIVERED", "par:a/SENT", "par:b/DELIVERED", "par:b/SENT")
	retry := now.Add(time.Hour)
	complete(t, s, by["fifo:a/SENT"], store.DeliveryPending, retry)
	complete(t, s, by["fifo:b/SENT"], store.DeliverySucceeded, now)
	got, by = claimed(t, s, "w", now)
	wantClaimed(t, "a failing", got, "fifo:b/DELIVERED")
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.HeldSubjects["fifo"] != 1 || len(st.HeldSubjects) != 1 {
		t.Errorf("held subjects = %v, want fifo:1", st.HeldSubjects)
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(by["fifo:b/DELIVERED"].Delivery.LeaseUntil) {
		t.Errorf("NextDue = %v, want the lease's end (a held delivery is not due)", next)
	}
	complete(t, s, by["fifo:b/DELIVERED"], store.DeliverySucceeded, now)
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(retry) {
		t.Errorf("NextDue = %v, want the retry %v", next, retry)
	}
	got, by = claimed(t, s, "w", retry)
	wantClaimed(t, "the retry", got, "fifo:a/SENT")
	complete(t, s, by["fifo:a/SENT"], store.DeliverySucceeded, retry)
	got, _ = claimed(t, s, "w", retry)
	wantClaimed(t, "after the retry", got, "fifo:a/DELIVERED")
	if st, _ := s.Stats(ctx); st.HeldSubjects["fifo"] != 0 {
		t.Errorf("held subjects once the retry succeeded = %v", st.HeldSubjects)
	}
}

// A dead delivery releases its subject, and so does discarding one that
// waits for a retry.
func testOrderRelease(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := openOrdered(t, factory)
	appendStatus(t, s, "a", "SENT", 0)
	appendStatus(t, s, "a", "DELIVERED", 0)
	appendStatus(t, s, "a", "READ", 0)
	now := t0.Add(time.Second)
	_, by := claimed(t, s, "w", now)
	complete(t, s, by["fifo:a/SENT"], store.DeliveryDead, now)
	got, by := claimed(t, s, "w", now)
	wantClaimed(t, "after dead", got, "fifo:a/DELIVERED")
	complete(t, s, by["fifo:a/DELIVERED"], store.DeliveryPending, now.Add(time.Hour))
	if got, _ := claimed(t, s, "w", now); len(got) != 0 {
		t.Errorf("claimed behind a retry: %q", got)
	}
	n, err := s.Discard(ctx, store.DeliverySelector{IDs: []int64{by["fifo:a/DELIVERED"].Delivery.ID}}, now)
	if err != nil || n != 1 {
		t.Fatalf("discard = %d, %v", n, err)
	}
	got, _ = claimed(t, s, "w", now)
	wantClaimed(t, "after discard", got, "fifo:a/READ")
}

// An ordered delivery whose lease expired is claimed again, before its
// subject's later ones, and only it.
func testOrderLeaseExpiry(t *testing.T, factory Factory) {
	s := openOrdered(t, factory)
	appendStatus(t, s, "a", "SENT", 0)
	appendStatus(t, s, "a", "DELIVERED", 0)
	now := t0.Add(time.Second)
	got, by := claimed(t, s, "crashed", now)
	wantClaimed(t, "first claim", got, "fifo:a/SENT", "par:a/DELIVERED", "par:a/SENT")
	got, by2 := claimed(t, s, "w", now.Add(time.Minute))
	wantClaimed(t, "after the lease", got, "fifo:a/SENT")
	if by2["fifo:a/SENT"].Delivery.ID != by["fifo:a/SENT"].Delivery.ID {
		t.Error("another delivery than the expired one was claimed")
	}
	complete(t, s, by2["fifo:a/SENT"], store.DeliverySucceeded, now.Add(time.Minute))
	got, _ = claimed(t, s, "w", now.Add(time.Minute))
	wantClaimed(t, "after success", got, "fifo:a/DELIVERED")
}

// A dead delivery requeued while its subject has one in flight waits for
// it, then goes first (it is the lowest).
func testOrderRequeue(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := openOrdered(t, factory)
	appendStatus(t, s, "a", "SENT", 0)
	appendStatus(t, s, "a", "DELIVERED", 0)
	appendStatus(t, s, "a", "READ", 0)
	now := t0.Add(time.Second)
	_, by := claimed(t, s, "w", now)
	sent := by["fifo:a/SENT"]
	complete(t, s, sent, store.DeliveryDead, now)
	_, by = claimed(t, s, "w", now)
	if n, err := s.Requeue(ctx, store.DeliverySelector{IDs: []int64{sent.Delivery.ID}}, now); err != nil || n != 1 {
		t.Fatalf("requeue = %d, %v", n, err)
	}
	if got, _ := claimed(t, s, "w", now); len(got) != 0 {
		t.Errorf("claimed while the subject is in flight: %q", got)
	}
	complete(t, s, by["fifo:a/DELIVERED"], store.DeliverySucceeded, now)
	got, by := claimed(t, s, "w", now)
	wantClaimed(t, "after the one in flight", got, "fifo:a/SENT")
	complete(t, s, by["fifo:a/SENT"], store.DeliverySucceeded, now)
	got, _ = claimed(t, s, "w", now)
	wantClaimed(t, "then", got, "fifo:a/READ")
}

// Deliveries added to an ordered destination are ordered as appended
// ones are.
func testOrderAdded(t *testing.T, factory Factory) {
	ctx := context.Background()
	s := openOrdered(t, factory)
	var ids []string
	for _, st := range []string{"READ", "SENT", "DELIVERED"} {
		ev := NewEvent("sent", "add-"+st)
		ev.Subject, ev.Status, ev.ReceivedAt = "a", st, t0
		mustAppend(t, s, ev)
		ids = append(ids, ev.ID)
	}
	if n, err := s.AddDeliveries(ctx, ids, "fifo", t0); err != nil || n != 3 {
		t.Fatalf("AddDeliveries = %d, %v", n, err)
	}
	for _, want := range []string{"SENT", "DELIVERED", "READ"} {
		got, by := claimed(t, s, "w", t0)
		wantClaimed(t, want, got, "fifo:a/"+want)
		if c, ok := by["fifo:a/"+want]; ok {
			complete(t, s, c, store.DeliverySucceeded, t0)
		}
	}
}

// Claimers working at once never hold two deliveries of one subject to
// the ordered destination, and each subject's deliveries, all stored
// before the first claim, are claimed in rank order.
func testOrderConcurrent(t *testing.T, factory Factory) {
	CheckOrderedClaims(t, []store.Store{openOrdered(t, factory)}, 40)
}

// CheckOrderedClaims appends the four statuses of each of subjects
// messages, shuffled, from 24 goroutines spread over instances (stores
// that share one location, whose routes order "fifo" by subject: see
// RunOrder), then claims and completes them from 9 claimers spread over
// them likewise. It fails t when two deliveries of one subject are claimed
// at once, or when a subject's are not claimed in lifecycle order. A
// backend that several processes share tests them with several instances.
func CheckOrderedClaims(t *testing.T, instances []store.Store, subjects int) {
	t.Helper()
	ctx := context.Background()
	statuses := []string{"QUEUED", "SENT", "DELIVERED", "READ"}
	var evs []*store.NewEvent
	for i := range subjects {
		for _, st := range statuses {
			ev := NewEvent("sent", fmt.Sprint("cc-", i, "-", st))
			ev.Subject, ev.Status, ev.ReceivedAt, ev.Destinations = fmt.Sprint("s", i), st, t0, []string{"fifo"}
			evs = append(evs, ev)
		}
	}
	rand.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	var wg sync.WaitGroup
	for w := range 24 {
		wg.Go(func() {
			for i := w; i < len(evs); i += 24 {
				if _, err := instances[i%len(instances)].Append(ctx, evs[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		order    = map[string][]string{}
		done     int
	)
	for w := range 9 {
		s := instances[w%len(instances)]
		owner := fmt.Sprint("w", w)
		wg.Go(func() {
			for idle := 0; idle < 500; {
				got, err := s.Claim(ctx, store.ClaimParams{Owner: owner, Now: t0.Add(time.Second), Lease: time.Hour, Limit: 4})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, c := range got {
					if inFlight[c.Event.Subject] {
						t.Errorf("subject %s claimed twice at once", c.Event.Subject)
					}
					inFlight[c.Event.Subject] = true
					order[c.Event.Subject] = append(order[c.Event.Subject], c.Event.Status)
				}
				finished := done == len(evs)
				mu.Unlock()
				if finished {
					return
				}
				if len(got) == 0 {
					idle++
					time.Sleep(2 * time.Millisecond)
					continue
				}
				for _, c := range got {
					// The attempt ends before it is recorded, as a
					// dispatcher's does.
					mu.Lock()
					inFlight[c.Event.Subject] = false
					done++
					mu.Unlock()
					complete(t, s, c, store.DeliverySucceeded, t0.Add(time.Second))
				}
			}
		})
	}
	wg.Wait()
	if done != len(evs) {
		t.Fatalf("%d of %d deliveries done", done, len(evs))
	}
	for subject, got := range order {
		if !slices.Equal(got, statuses) {
			t.Errorf("subject %s claimed %v, want %v", subject, got, statuses)
		}
	}
}
