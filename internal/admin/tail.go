package admin

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/store"
)

// EventNote is the live stream's "event" message: an event as stored.
type EventNote struct {
	ID         string    `json:"id"`
	Seq        int64     `json:"seq"`
	Type       string    `json:"type"`
	Subject    string    `json:"subject,omitempty"`
	Status     string    `json:"status,omitempty"`
	Attention  string    `json:"attention,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// AttemptNote is the live stream's "attempt" message: one delivery
// attempt as recorded.
type AttemptNote struct {
	EventID        string               `json:"event_id"`
	DeliveryID     int64                `json:"delivery_id"`
	Destination    string               `json:"destination"`
	Attempt        int                  `json:"attempt"`
	StartedAt      time.Time            `json:"started_at"`
	DurationMillis float64              `json:"duration_ms"`
	Outcome        store.AttemptOutcome `json:"outcome"`
	StatusCode     int                  `json:"status_code,omitempty"`
	Error          string               `json:"error,omitempty"`
	DeliveryStatus store.DeliveryStatus `json:"delivery_status"`
	NextAttemptAt  time.Time            `json:"next_attempt_at,omitzero"`
}

// StatsNote is the live stream's "stats" message, sent every two seconds
// while anyone watches: the overview's numbers (as GET /v1/stats has
// them) and the latest minute.
type StatsNote struct {
	Queue                   Queue       `json:"queue"`
	Totals                  store.Stats `json:"totals"`
	ReceiverUnavailableSecs float64     `json:"receiver_unavailable_seconds"`
	Minute                  *Minute     `json:"minute,omitempty"`
}

// RejectionNote is the live stream's "rejection" message.
type RejectionNote struct {
	ID         int64     `json:"id"`
	Reason     string    `json:"reason"`
	RemoteAddr string    `json:"remote_addr"`
	ReceivedAt time.Time `json:"received_at"`
}

// tail follows the store for the live stream: new events (woken by the
// receiver, else once a second, so events stored by other processes show
// too), new rejections, and the attempts the dispatcher reports. It reads
// the store only while someone watches.
type tail struct {
	st     store.Store
	hub    *hub
	logger *slog.Logger

	wake     chan struct{}
	attempts chan AttemptNote
	dropped  atomic.Int64 // attempts the channel had no room for

	// Where the stream stands; set when the first subscriber arrives,
	// read and moved on by run only.
	lastSeq       atomic.Int64
	lastRejection atomic.Int64

	closed    chan struct{} // closed by Admin.Close: streams end
	closeOnce sync.Once
}

func newTail(st store.Store, logger *slog.Logger) *tail {
	t := &tail{st: st, logger: logger, wake: make(chan struct{}, 1), attempts: make(chan AttemptNote, 1024), closed: make(chan struct{})}
	t.hub = newHub(t.start)
	return t
}

// start marks the store's newest event and rejection: a new subscriber
// sees what comes after.
func (t *tail) start() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if evs, err := t.st.ListEvents(ctx, store.EventFilter{BeforeSeq: math.MaxInt64, Limit: 1}); err == nil {
		t.lastSeq.Store(0)
		if len(evs) > 0 {
			t.lastSeq.Store(evs[0].Seq)
		}
	}
	if rs, err := t.st.ListRejections(ctx, 1); err == nil {
		t.lastRejection.Store(0)
		if len(rs) > 0 {
			t.lastRejection.Store(rs[0].ID)
		}
	}
}

// notify wakes the tail; it never blocks.
func (t *tail) notify() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// onAttempt hands an attempt to the stream; it never blocks.
func (t *tail) onAttempt(a dispatch.Attempted) {
	if !t.hub.active() {
		return
	}
	c := a.Completion
	n := AttemptNote{
		EventID: a.Event.ID, DeliveryID: c.DeliveryID, Destination: a.Route, Attempt: c.Attempt.Attempt,
		StartedAt: c.Attempt.StartedAt, DurationMillis: float64(c.Attempt.Duration.Microseconds()) / 1000,
		Outcome: c.Attempt.Outcome, StatusCode: c.Attempt.StatusCode, Error: clip(c.Attempt.Error, 500),
		DeliveryStatus: c.Status,
	}
	if c.Status == store.DeliveryPending {
		n.NextAttemptAt = c.NextAttemptAt
	}
	select {
	case t.attempts <- n:
	default:
		t.dropped.Add(1)
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (t *tail) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-t.attempts:
			if d := t.dropped.Swap(0); d > 0 {
				t.hub.publish("gap", map[string]int64{"missed": d})
			}
			t.hub.publish("attempt", n)
		case <-t.wake:
			t.follow(ctx)
		case <-tick.C:
			t.follow(ctx)
		}
	}
}

// follow publishes the events and rejections stored since the last look.
func (t *tail) follow(ctx context.Context) {
	if !t.hub.active() {
		return
	}
	for {
		evs, err := t.st.ListEvents(ctx, store.EventFilter{AfterSeq: t.lastSeq.Load(), Limit: 500})
		if err != nil {
			t.logger.Warn("live stream: could not read new events", "err", err)
			return
		}
		for _, ev := range evs {
			t.hub.publish("event", EventNote{ID: ev.ID, Seq: ev.Seq, Type: ev.Type, Subject: ev.Subject,
				Status: ev.Status, Attention: ev.Attention, ReceivedAt: ev.ReceivedAt})
			t.lastSeq.Store(ev.Seq)
		}
		if len(evs) < 500 {
			break
		}
	}
	rs, err := t.st.ListRejections(ctx, 50)
	if err != nil {
		t.logger.Warn("live stream: could not read new rejections", "err", err)
		return
	}
	last := t.lastRejection.Load()
	for i := len(rs) - 1; i >= 0; i-- { // oldest first
		if r := rs[i]; r.ID > last {
			t.hub.publish("rejection", RejectionNote{ID: r.ID, Reason: r.Reason, RemoteAddr: r.RemoteAddr, ReceivedAt: r.ReceivedAt})
			t.lastRejection.Store(r.ID)
		}
	}
}
