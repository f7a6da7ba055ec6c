package admin

import (
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Failed attempts at the admin token allowed per client address: a burst,
// then one more each failureEvery. Past them the address is refused (429)
// before its credentials are even looked at, so that a guesser learns
// nothing from the answers it gets meanwhile.
const (
	failureBurst = 10
	failureEvery = time.Second
	// maxTrackedClients bounds the limiter's memory: past it, the
	// addresses not tracked yet share one allowance.
	maxTrackedClients = 10000
)

// failureLimit counts failed attempts at the admin token per client
// address, as a token bucket each: a failure spends one attempt, time
// gives them back. An address whose bucket is full again is forgotten.
// Successful requests spend nothing.
type failureLimit struct {
	burst  float64
	every  time.Duration
	max    int
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	clients  map[string]*allowance
	overflow allowance // shared by the addresses beyond max
	swept    time.Time
}

// allowance is one address's bucket.
type allowance struct {
	left     float64   // attempts left
	at       time.Time // when left was last brought up to date; zero for a fresh bucket
	failures int       // since the bucket was last full
	warned   bool      // this burst was logged
}

func newFailureLimit(now func() time.Time, logger *slog.Logger) *failureLimit {
	return &failureLimit{burst: failureBurst, every: failureEvery, max: maxTrackedClients, now: now, logger: logger,
		clients: map[string]*allowance{}}
}

// refill brings al up to now; a bucket full again ends its burst.
func (l *failureLimit) refill(al *allowance, now time.Time) {
	if al.at.IsZero() {
		al.left = l.burst
	} else {
		al.left = min(l.burst, al.left+float64(now.Sub(al.at))/float64(l.every))
	}
	al.at = now
	if al.left >= l.burst {
		al.failures, al.warned = 0, false
	}
}

// lookup returns client's bucket, or nil when it has none and need not
// get one. With create, a new address gets a bucket, or the shared one
// when the table is full of addresses still counting down.
func (l *failureLimit) lookup(client string, now time.Time, create bool) *allowance {
	if al, ok := l.clients[client]; ok {
		return al
	}
	if len(l.clients) >= l.max && now.Sub(l.swept) >= l.every {
		l.swept = now
		for k, al := range l.clients {
			if al.left+float64(now.Sub(al.at))/float64(l.every) >= l.burst {
				delete(l.clients, k)
			}
		}
	}
	if len(l.clients) >= l.max {
		return &l.overflow
	}
	if !create {
		return nil
	}
	al := &allowance{}
	l.clients[client] = al
	return al
}

// wait says how long client must wait before its credentials are looked
// at again; 0 when they may be now.
func (l *failureLimit) wait(client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	al := l.lookup(client, now, false)
	if al == nil {
		return 0
	}
	l.refill(al, now)
	return l.waitFor(al)
}

func (l *failureLimit) waitFor(al *allowance) time.Duration {
	if al.left >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - al.left) * float64(l.every)))
}

// fail counts a failed attempt from client, and logs once when the
// address starts being refused.
func (l *failureLimit) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	al := l.lookup(client, now, true)
	l.refill(al, now)
	al.left--
	al.failures++
	if al.left < 1 && !al.warned {
		al.warned = true
		args := []any{"addr", client, "failures", al.failures, "retry_after", l.waitFor(al).String()}
		if al == &l.overflow {
			args = append(args, "shared_by", "every address beyond the tracked "+strconv.Itoa(l.max))
		}
		l.logger.Warn("admin: too many wrong admin tokens from one address; refusing it for a while", args...)
	}
}

// tracked is how many addresses the limiter tracks.
func (l *failureLimit) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}

// clientKey names r's client for the limiter: its IP address, or for
// IPv6 its /64, which one host commonly holds whole.
func clientKey(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	addr := ap.Addr().Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}
