package bench

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
)

// ForwardedEventID is the header hooklatch forwards the sender's
// X-Webhook-Event-Id under.
const ForwardedEventID = httpdest.SentHeaderPrefix + "Webhook-Event-Id"

// Arrivals is a receiver for what serve forwards over HTTP: it answers 200
// and measures, for each event, the time from when the load had it due
// (Sent) to its first arrival, matched by event id.
type Arrivals struct {
	mu        sync.Mutex
	due       map[string]time.Time
	lat       worker
	unmatched int64 // arrivals of no event sent, or arriving again
}

// NewArrivals returns an empty Arrivals.
func NewArrivals() *Arrivals {
	return &Arrivals{due: map[string]time.Time{}, lat: worker{byStatus: map[int]int64{}, errors: map[string]int64{}, rng: rand.New(rand.NewPCG(3, 4))}}
}

// Sent records that event id was due at due; pass it as Load.Sent.
func (a *Arrivals) Sent(id string, due time.Time) {
	a.mu.Lock()
	a.due[id] = due
	a.mu.Unlock()
}

// ServeHTTP answers 200 and records the arrival.
func (a *Arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	io.Copy(io.Discard, r.Body)
	id := r.Header.Get(ForwardedEventID)
	a.mu.Lock()
	defer a.mu.Unlock()
	due, ok := a.due[id]
	if !ok {
		a.unmatched++
		return
	}
	delete(a.due, id)
	a.lat.byStatus[http.StatusOK]++
	a.lat.record(now.Sub(due))
}

// Start serves a on a free local port until stop.
func (a *Arrivals) Start() (url string, stop func(), err error) { return serveHTTP(a) }

// Result is what arrived so far: Requests counts events delivered, and the
// percentiles are from due to arrival. Missing is how many sent events have
// not arrived, Unmatched how many arrivals matched no waiting event.
func (a *Arrivals) Result(name string, elapsed time.Duration) (res Result, missing, unmatched int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return summarize(name, elapsed, []*worker{&a.lat}), int64(len(a.due)), a.unmatched
}
