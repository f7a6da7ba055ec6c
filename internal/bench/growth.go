package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// GrowthDestination is the one destination a grown store's events go to:
// the name serve gives --forward-to.
const GrowthDestination = "forward"

// Shares of the grown events, in thousandths.
const (
	duplicatePerMille    = 20 // sent again: counted, not stored again
	unknownTypePerMille  = 5  // stored for attention: a type outside the catalog
	unparseablePerMille  = 1  // stored for attention: not JSON
	reusedSubjectPercent = 50 // of message events: about a message seen before
	deadPerMille         = 30 // delivery refused for good (422): dead
	retryingPerMille     = 10 // delivery failed (503): pending, due after RetryDelay
)

// RetryDelay is when a grown delivery that failed is tried again: far
// enough that a serve measuring the store weeks later does not deliver
// them all while it is measured, and the pending ones stay pending.
const RetryDelay = 90 * 24 * time.Hour

// Grow appends events to st until it holds target more, the way serve's
// receiver would store the webhooks Sent sends (every catalog type, message
// events about a message seen before, some duplicates, some for
// attention), each with a delivery to GrowthDestination, and settles the
// deliveries as a dispatcher would: most succeed, a share die, a share wait
// for a retry. It uses only the store.Store interface, appending from many
// goroutines at once so the store commits them in groups.
func Grow(ctx context.Context, st store.Store, target int64, secret signature.Secret, progress io.Writer) (GrowResult, error) {
	if err := st.SetRoutes(ctx, []store.Route{{Name: GrowthDestination}}); err != nil {
		return GrowResult{}, err
	}
	g := &grower{st: st, target: target, secret: secret}
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var appenders sync.WaitGroup
	const workers = 128
	for i := range workers {
		appenders.Go(func() {
			if err := g.append(ctx, newMixer(uint64(i), uint64(time.Now().UnixNano()), secret)); err != nil {
				cancel(err)
			}
		})
	}
	settled := make(chan error, 1)
	go func() { settled <- g.settle(ctx, appenders.Wait) }() // once every appender is counted
	stop := g.report(progress, start)
	appenders.Wait()
	err := <-settled
	stop()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return GrowResult{Stored: g.stored.Load(), Duplicates: g.duplicates.Load(), Settled: g.settled.Load(), Elapsed: time.Since(start)}, err
}

// GrowResult is what one Grow did.
type GrowResult struct {
	Stored, Duplicates, Settled int64
	Elapsed                     time.Duration
}

// Rate is stored events a second.
func (r GrowResult) Rate() float64 { return float64(r.Stored) / max(r.Elapsed.Seconds(), 1e-9) }

type grower struct {
	st     store.Store
	target int64
	secret signature.Secret

	stored, duplicates, settled atomic.Int64
}

// append stores events until the target is reached.
func (g *grower) append(ctx context.Context, m *mixer) error {
	for ctx.Err() == nil && g.stored.Load() < g.target {
		ev := m.next()
		for {
			res, err := g.st.Append(ctx, ev)
			if errors.Is(err, store.ErrBusy) {
				time.Sleep(time.Millisecond)
				continue
			}
			if err != nil {
				return fmt.Errorf("append: %w", err)
			}
			if res.Duplicate {
				g.duplicates.Add(1)
			} else {
				g.stored.Add(1)
			}
			break
		}
	}
	return ctx.Err()
}

// settle claims due deliveries and completes them until the appenders are
// done and nothing is left due.
func (g *grower) settle(ctx context.Context, appendersDone func()) error {
	done := make(chan struct{})
	go func() { appendersDone(); close(done) }()
	appended := false // every append finished before the claim below began
	for {
		claims, err := g.st.Claim(ctx, store.ClaimParams{Owner: "growth", Now: time.Now(), Lease: 10 * time.Minute, Limit: 1000})
		if err != nil {
			return fmt.Errorf("claim: %w", err)
		}
		if err := g.complete(ctx, claims); err != nil {
			return err
		}
		if len(claims) > 0 {
			continue
		}
		if appended {
			return nil
		}
		select {
		case <-done:
			// The last appends may have committed after the empty claim
			// above: claim once more.
			appended = true
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// complete settles claims from many goroutines at once, so that the store
// commits them in groups.
func (g *grower) complete(ctx context.Context, claims []store.Claim) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(claims))
	sem := make(chan struct{}, 128)
	for _, c := range claims {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := g.st.Complete(ctx, outcome(c)); err != nil {
				errs <- fmt.Errorf("complete: %w", err)
				return
			}
			g.settled.Add(1)
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// outcome is how a grown event's delivery went, the same for the same
// event every time.
func outcome(c store.Claim) store.Completion {
	now := time.Now()
	h := fnv.New32a()
	h.Write([]byte(c.Event.ID))
	draw := h.Sum32() % 1000
	comp := store.Completion{
		DeliveryID: c.Delivery.ID, Owner: "growth", Status: store.DeliverySucceeded, SpendAttempt: true, Now: now,
		Attempt: store.Attempt{DeliveryID: c.Delivery.ID, StartedAt: now, Duration: 3 * time.Millisecond, Outcome: store.OutcomeSucceeded, StatusCode: 200},
	}
	switch {
	case draw < deadPerMille:
		comp.Status = store.DeliveryDead
		comp.Attempt.Outcome, comp.Attempt.StatusCode = store.OutcomePermanent, 422
		comp.Attempt.Error, comp.Attempt.Response = "422 Unprocessable Entity", `{"error":"unknown account"}`
	case draw < deadPerMille+retryingPerMille:
		comp.Status, comp.NextAttemptAt = store.DeliveryPending, now.Add(RetryDelay)
		comp.Attempt.Outcome, comp.Attempt.StatusCode = store.OutcomeTemporary, 503
		comp.Attempt.Error = "503 Service Unavailable"
	}
	return comp
}

// report prints a line every five seconds until stopped.
func (g *grower) report(w io.Writer, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				n := g.stored.Load()
				fmt.Fprintf(w, "  grow %4.0fs  %9d of %d stored (%.0f/s)  %d deliveries settled\n",
					time.Since(start).Seconds(), n, g.target, float64(n)/time.Since(start).Seconds(), g.settled.Load())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// mixer makes the events of a grown store, as the receiver would build
// them from Sent's signed requests.
type mixer struct {
	rng      *rand.Rand
	src      *rand.ChaCha8
	secret   signature.Secret
	types    []string
	subjects []string // message ids seen before
	last     *store.NewEvent
}

func newMixer(worker, seed uint64, secret signature.Secret) *mixer {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	binary.LittleEndian.PutUint64(key[8:], worker)
	m := &mixer{rng: rand.New(rand.NewPCG(seed, worker)), src: rand.NewChaCha8(key), secret: secret}
	for _, t := range event.Types {
		m.types = append(m.types, t.Name)
		if t.Field == "message" { // most traffic is about messages
			m.types = append(m.types, t.Name, t.Name, t.Name)
		}
	}
	return m
}

// next is the next event to append: a duplicate of the last one now and
// then, else a new one.
func (m *mixer) next() *store.NewEvent {
	draw := m.rng.IntN(1000)
	if m.last != nil && draw < duplicatePerMille {
		dup := *m.last
		dup.ID = store.NewEventIDFor(dup.Body)
		return &dup
	}
	var body []byte
	switch {
	case draw < duplicatePerMille+unparseablePerMille:
		body = fmt.Appendf(nil, "not json %x", m.rng.Uint64())
	case draw < duplicatePerMille+unparseablePerMille+unknownTypePerMille:
		body = bytes.Replace(m.sample("message.delivered"), []byte(`"sub_type":"message.delivered"`), []byte(`"sub_type":"message.teleported"`), 1)
	default:
		body = m.sample(m.types[m.rng.IntN(len(m.types))])
	}
	ev := m.build(body)
	// Only a message's own events share its id: an inbound message's
	// subject is a phone number, which no status event names.
	if ev.Field == "message" && ev.SubjectKind == "message_id" && ev.Subject != "" {
		if len(m.subjects) > 0 && m.rng.IntN(100) < reusedSubjectPercent {
			old := m.subjects[m.rng.IntN(len(m.subjects))]
			ev = m.build(bytes.ReplaceAll(body, []byte(ev.Subject), []byte(old)))
		} else if len(m.subjects) < 256 {
			m.subjects = append(m.subjects, ev.Subject)
		} else {
			m.subjects[m.rng.IntN(len(m.subjects))] = ev.Subject
		}
	}
	m.last = ev
	return ev
}

func (m *mixer) sample(typeName string) []byte {
	body, err := event.Sample(typeName, event.SampleOptions{Rand: m.src})
	if err != nil {
		panic(err) // every catalog type has a sample
	}
	return body
}

// build is the event the receiver stores for body, signed and sent as
// Sent sends it.
func (m *mixer) build(body []byte) *store.NewEvent {
	h := http.Header{}
	for k, v := range signature.Sign(signature.V1, m.secret, body, signature.SignOptions{}) {
		h[k] = v
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Sent-Webhooks/1.0")
	h.Set(event.HeaderEventID, uuid.NewString())
	ev := receiver.NewEvent(store.NewEventIDFor(body), "sent", string(signature.V1), h, body, time.Now())
	ev.Destinations = []string{GrowthDestination}
	return ev
}

// growthRejections are kept rejections for the dashboard's rejections
// page, as a store that met a misconfigured sender holds them.
func growthRejections() []store.Rejection {
	reasons := []string{"no_match", "stale_timestamp", "missing_signature"}
	var out []store.Rejection
	for i := range 30 {
		body := fmt.Appendf(nil, `{"field":"message","sub_type":"message.sent","n":%d}`, i)
		sum := sha256.Sum256(body)
		out = append(out, store.Rejection{
			Source: "sent", ReceivedAt: time.Now(), RemoteAddr: "192.0.2.10:443", Reason: reasons[i%len(reasons)],
			Detail: "signature does not match", Diagnosis: "signed with another secret",
			Headers: map[string]string{"content-type": "application/json"}, Body: body,
			BodyBytes: int64(len(body)), BodySHA256: hex.EncodeToString(sum[:]),
		})
	}
	return out
}

// AddRejections keeps a few rejections in st, so that the rejections
// pages have something to show.
func AddRejections(ctx context.Context, st store.Store) error {
	for _, r := range growthRejections() {
		if _, err := st.AddRejection(ctx, &r, store.RejectionLimits{}); err != nil {
			return err
		}
		if err := st.CountRejections(ctx, []store.RejectionCount{{Source: r.Source, Reason: r.Reason, Count: 1, FirstAt: r.ReceivedAt, LastAt: r.ReceivedAt}}); err != nil {
			return err
		}
	}
	return nil
}
