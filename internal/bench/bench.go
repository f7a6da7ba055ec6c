// Package bench is the load generator behind `hooklatch bench`: many
// connections posting correctly signed webhooks, each with a fresh event
// id, for a bounded time, measuring acknowledgement latency.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/signature"
)

// Load describes the traffic.
type Load struct {
	// URL receives the requests. Required.
	URL string
	// Body is posted with every request, with a fresh X-Webhook-Event-Id.
	// Required.
	Body []byte
	// Vary is a part of Body that each request replaces with a fresh value
	// of the same length (a UUID when it is 36 bytes long), so that every
	// request is a new event: a receiver takes a byte-identical body as a
	// duplicate whatever its event id. Defaults to none: every request
	// after the first is then a duplicate.
	Vary string
	// Scheme and Secret sign each request. Required.
	Scheme signature.Scheme
	Secret signature.Secret
	// Connections is how many requests are in flight at once. Defaults to 64.
	Connections int
	// Duration bounds the run. Defaults to 10s.
	Duration time.Duration
	// MaxRequests, when positive, also bounds the run.
	MaxRequests int64
	// Progress, when set, gets a line a second.
	Progress io.Writer
	// Name labels the result.
	Name string
	// Sent, when set, is told each request's event id and when Paced had
	// it due, before it is sent.
	Sent func(eventID string, due time.Time)
}

// Result is what one run measured.
type Result struct {
	Name     string
	Requests int64 // answered, any status
	Elapsed  time.Duration
	ByStatus map[int]int64
	Errors   map[string]int64 // transport errors, by message
	P50      time.Duration
	P99      time.Duration
	P999     time.Duration
	Max      time.Duration
	// Samples is how many latencies the percentiles come from.
	Samples int
}

// RPS is answered requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// OK counts 2xx answers.
func (r Result) OK() int64 {
	var n int64
	for code, c := range r.ByStatus {
		if code >= 200 && code < 300 {
			n += c
		}
	}
	return n
}

// maxSamplesPerWorker bounds memory: beyond it a worker keeps a uniform
// random sample (reservoir) of its latencies.
const maxSamplesPerWorker = 1 << 16

type worker struct {
	lat      []time.Duration
	seen     int
	byStatus map[int]int64
	errors   map[string]int64
	rng      *rand.Rand
}

func (w *worker) record(d time.Duration) {
	w.seen++
	if len(w.lat) < maxSamplesPerWorker {
		w.lat = append(w.lat, d)
		return
	}
	if i := w.rng.IntN(w.seen); i < maxSamplesPerWorker {
		w.lat[i] = d
	}
}

// Run sends the load and returns what it measured.
func Run(ctx context.Context, l Load) (Result, error) {
	if l.URL == "" || len(l.Body) == 0 {
		return Result{}, errors.New("bench: URL and Body are required")
	}
	if l.Connections <= 0 {
		l.Connections = 64
	}
	if l.Duration <= 0 {
		l.Duration = 10 * time.Second
	}
	transport := &http.Transport{
		MaxIdleConns:        l.Connections,
		MaxIdleConnsPerHost: l.Connections,
		MaxConnsPerHost:     l.Connections,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()

	var (
		sent     atomic.Int64
		answered atomic.Int64
		failed   atomic.Int64
		wg       sync.WaitGroup
	)
	workers := make([]*worker, l.Connections)
	start := time.Now()
	for i := range workers {
		w := &worker{byStatus: map[int]int64{}, errors: map[string]int64{}, rng: rand.New(rand.NewPCG(uint64(i), 1))}
		workers[i] = w
		wg.Go(func() {
			for ctx.Err() == nil {
				if l.MaxRequests > 0 && sent.Add(1) > l.MaxRequests {
					return
				}
				req, err := newRequest(ctx, l)
				if err != nil {
					w.errors[err.Error()]++
					return
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return // the run ended while this one was in flight
					}
					w.errors[err.Error()]++
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				w.record(time.Since(t0))
				w.byStatus[resp.StatusCode]++
				answered.Add(1)
			}
		})
	}

	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		if l.Progress == nil {
			return
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-stopProgress:
				return
			case <-tick.C:
				n := answered.Load()
				fmt.Fprintf(l.Progress, "  %-10s %4.0fs  %8d req/s  %8d total  %d transport errors\n",
					l.Name, time.Since(start).Seconds(), n-last, n, failed.Load())
				last = n
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	close(stopProgress)
	<-progressDone

	return summarize(l.Name, elapsed, workers), nil
}

// summarize adds up what the workers measured.
func summarize(name string, elapsed time.Duration, workers []*worker) Result {
	res := Result{Name: name, Elapsed: elapsed, ByStatus: map[int]int64{}, Errors: map[string]int64{}}
	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
		for k, v := range w.byStatus {
			res.ByStatus[k] += v
			res.Requests += v
		}
		for k, v := range w.errors {
			res.Errors[k] += v
		}
	}
	slices.Sort(lat)
	res.Samples = len(lat)
	res.P50, res.P99, res.P999 = percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 0.999)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func newRequest(ctx context.Context, l Load) (*http.Request, error) {
	body := l.Body
	if l.Vary != "" {
		body = bytes.ReplaceAll(body, []byte(l.Vary), []byte(freshValue(len(l.Vary))))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range signature.Sign(l.Scheme, l.Secret, body, signature.SignOptions{}) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signature.HeaderEventID, uuid.NewString())
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return req, nil
}

// freshValue is a new random value n bytes long: a UUID for 36.
func freshValue(n int) string {
	if n == 36 {
		return uuid.NewString()
	}
	v := strings.ReplaceAll(uuid.NewString(), "-", "")
	for len(v) < n {
		v += strings.ReplaceAll(uuid.NewString(), "-", "")
	}
	return v[:n]
}
