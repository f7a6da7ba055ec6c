package bench

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// The kinds of Attack.
const (
	// Trickle opens Conns connections that each declare a body of 65,000
	// bytes and send one byte of it every 2 seconds: little bandwidth,
	// many bodies in flight.
	Trickle = "trickle"
	// TrickleMany is Trickle with 4,200 connections declaring 16,383
	// bytes: the sizes an attacker who knew a budget counted declared
	// bytes would pick, 4,096 of them filling 64 MiB to the byte.
	TrickleMany = "trickle-many"
	// SlowBodies has Conns senders each post a body of 64 KiB at 4 KiB/s,
	// again and again.
	SlowBodies = "slow"
	// Flood has Conns senders post forged bodies of 1 MiB as fast as they
	// are answered.
	Flood = "flood"
)

// AttackKinds are the kinds Attack knows, in the order of the help text.
var AttackKinds = []string{Trickle, TrickleMany, SlowBodies, Flood}

// Attack is hostile load on a webhook endpoint, sent beside valid webhooks
// to see whether they are still accepted.
type Attack struct {
	// Kind is Trickle, SlowBodies or Flood. Required.
	Kind string
	// URL is the endpoint. Required.
	URL string
	// Conns is how many connections attack at once. Defaults to 1100 for
	// Trickle, 4200 for TrickleMany, 256 for SlowBodies and 64 for Flood.
	Conns int
}

// AttackResult counts what an attack's requests were answered.
type AttackResult struct {
	Connections int64         // opened
	ByStatus    map[int]int64 // answers
	Unanswered  int64         // connections that ended without an answer
}

func (r AttackResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d connections", r.Connections)
	for _, c := range slices.Sorted(maps.Keys(r.ByStatus)) {
		fmt.Fprintf(&b, ", %d × %d", r.ByStatus[c], c)
	}
	if r.Unanswered > 0 {
		fmt.Fprintf(&b, ", %d ended unanswered", r.Unanswered)
	}
	return b.String()
}

// shape is how one kind of attack sends a request.
type shape struct {
	conns    int
	declared int           // Content-Length
	piece    int           // bytes sent at a time
	every    time.Duration // between pieces; 0: all at once
}

var shapes = map[string]shape{
	Trickle:     {conns: 1100, declared: 65000, piece: 1, every: 2 * time.Second},
	TrickleMany: {conns: 4200, declared: 16383, piece: 1, every: 2 * time.Second},
	SlowBodies:  {conns: 256, declared: 64 << 10, piece: 1 << 10, every: 250 * time.Millisecond},
	Flood:       {conns: 64, declared: 1 << 20},
}

// Connections is how many connections the attack keeps open at once.
func (a Attack) Connections() int {
	if a.Conns > 0 {
		return a.Conns
	}
	return shapes[a.Kind].conns
}

// Run attacks until ctx is done. ready, when not nil, is closed once every
// connection has sent its request's headers for the first time.
func (a Attack) Run(ctx context.Context, ready chan<- struct{}) (AttackResult, error) {
	sh, ok := shapes[a.Kind]
	if !ok {
		return AttackResult{}, fmt.Errorf("unknown attack %q: want one of %s", a.Kind, strings.Join(AttackKinds, ", "))
	}
	sh.conns = a.Connections()
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return AttackResult{}, fmt.Errorf("attack URL %q: want http://host:port/path", a.URL)
	}
	// A forged signature, well formed: the receiver reads the whole body
	// before it can tell.
	forged := signature.Sign(signature.V1, signature.NewSecret(), nil, signature.SignOptions{})
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", u.RequestURI(), u.Host, sh.declared)
	for k, v := range forged {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v[0])
	}
	head.WriteString("\r\n")

	var (
		mu      sync.Mutex
		res     = AttackResult{ByStatus: map[int]int64{}}
		started sync.WaitGroup
		wg      sync.WaitGroup
		opened  atomic.Int64
	)
	body := make([]byte, sh.declared)
	crand.Read(body)
	started.Add(sh.conns)
	for i := range sh.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for ctx.Err() == nil {
				opened.Add(1)
				code, err := sendOnce(ctx, u.Host, head.String(), body, sh, func() {
					if first {
						first = false
						started.Done()
					}
				})
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil {
						res.Unanswered++
					}
				} else {
					res.ByStatus[code]++
				}
				mu.Unlock()
				if first { // never got its headers out: try again, a little later
					select {
					case <-ctx.Done():
					case <-time.After(time.Duration(10+i%50) * time.Millisecond):
					}
				}
			}
			if first {
				started.Done()
			}
		}()
	}
	go func() {
		started.Wait()
		if ready != nil {
			close(ready)
		}
	}()
	wg.Wait()
	res.Connections = opened.Load()
	return res, nil
}

// sendOnce sends one request of shape sh on a new connection and reads its
// answer's status. sent is called once the headers are out.
func sendOnce(ctx context.Context, host, head string, body []byte, sh shape, sent func()) (int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, err
	}
	sent()
	answered := make(chan struct{})
	var code int
	var readErr error
	go func() {
		defer close(answered)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			readErr = err
			return
		}
		code = resp.StatusCode
		resp.Body.Close()
	}()
	if sh.every == 0 {
		conn.Write(body)
	} else {
		t := time.NewTicker(sh.every)
	send:
		for off := 0; off < len(body); off += sh.piece {
			select {
			case <-answered:
				break send
			case <-ctx.Done():
				break send
			case <-t.C:
			}
			if _, err := conn.Write(body[off:min(off+sh.piece, len(body))]); err != nil {
				break
			}
		}
		t.Stop()
	}
	<-answered
	if readErr != nil {
		return 0, readErr
	}
	return code, nil
}

// Paced posts rate × l.Duration valid webhooks of l, at rate a second, each
// on its own goroutine so that a slow answer does not hold back the next: the
// way a sender with many workers sends. It is open loop: the i-th request is
// due at i/rate whatever the answers do, and its latency is measured from
// when it was due, so queueing shows in the figures rather than in fewer
// requests sent.
func Paced(ctx context.Context, l Load, rate float64) (Result, error) {
	if l.Duration <= 0 {
		l.Duration = 10 * time.Second
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var (
		mu  sync.Mutex
		w   = &worker{byStatus: map[int]int64{}, errors: map[string]int64{}, rng: rand.New(rand.NewPCG(1, 2))}
		wg  sync.WaitGroup
		err error
	)
	start := time.Now()
	total := int(rate * l.Duration.Seconds())
	for i := 0; i < total && ctx.Err() == nil; i++ {
		// A sender that falls behind catches up rather than sending fewer.
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		req, rerr := newRequest(ctx, l)
		if rerr != nil {
			err = rerr
			break
		}
		if l.Sent != nil {
			l.Sent(req.Header.Get(signature.HeaderEventID), due)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Do(req)
			took := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				w.errors[err.Error()]++
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			w.byStatus[resp.StatusCode]++
			w.record(took)
		}()
	}
	wg.Wait()
	return summarize(l.Name, time.Since(start), []*worker{w}), err
}
