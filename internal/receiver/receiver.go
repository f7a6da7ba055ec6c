// Package receiver is the webhook endpoint: limit → verify → parse →
// append → answer. It answers 2xx only after the event is durable, and
// anything that can wait (diagnosing a bad signature, keeping the rejected
// request) happens off the request path.
package receiver

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"go.opentelemetry.io/otel/trace"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/tracing"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
)

// Defaults of the Config fields of the same names.
const (
	DefaultMaxBodyBytes          = 1 << 20
	DefaultMemoryBudgetBytes     = 64 << 20
	DefaultRejectionBodyMaxBytes = 64 << 10
	DefaultMinBodyRate           = 16 << 10
	DefaultBodyGrace             = 2 * time.Second
	DefaultMaxBodyTime           = 30 * time.Second
	DefaultSlowBodyAfter         = time.Second
	DefaultAnswerWithin          = 4 * time.Second
)

// Config configures a Receiver.
type Config struct {
	// Store keeps accepted events and rejections. Required.
	Store store.Store

	// Verifier checks Sent's signatures. Required, unless Endpoints are
	// set: then without one, Sent's endpoint is not served.
	Verifier *signature.Verifier

	// Secrets are the verifier's secrets, used to diagnose rejections off
	// the request path. Required with Verifier.
	Secrets []signature.Secret

	// Endpoints are the sources of other providers, each at its own path:
	// a request to one of these paths is verified by its Source and its
	// event stored under its name; any other path is Sent's. Defaults to
	// none: the receiver is Sent's endpoint alone.
	Endpoints []Endpoint

	// Tolerance is the verifier's timestamp tolerance, for the diagnosis.
	// Defaults to signature.DefaultTolerance.
	Tolerance time.Duration

	// Source names this endpoint in the store. Defaults to "sent".
	Source string

	// MaxBodyBytes caps a request body; larger ones get 413. Defaults to
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// MemoryBudgetBytes bounds the bytes held for request bodies being
	// read and for rejected requests waiting to be kept. A body is counted
	// as it arrives: 4 KiB at first, then twice what it has sent each time
	// its buffer fills, so declaring a large body and trickling it holds
	// almost nothing. A body whose declared size could not fit now is
	// answered 503 with Retry-After, unread; so is one that outgrows what
	// is left, and the sender retries. Bodies over 64 KiB may fill only
	// three quarters of the budget, so that a flood of large bodies leaves
	// room for ordinary webhooks; those three quarters must hold a body of
	// MaxBodyBytes. A body still arriving after SlowBodyAfter grows only
	// while less than half of the budget is held, so that slow senders
	// leave the other half to bodies that arrive at once. Defaults to
	// DefaultMemoryBudgetBytes, or to the least that holds a body of
	// MaxBodyBytes when that is more.
	MemoryBudgetBytes int64

	// MinBodyRate is the slowest a body may arrive, in bytes a second,
	// after BodyGrace: a body of n bytes must be whole within BodyGrace +
	// n/MinBodyRate (and MaxBodyTime), else it is answered 408 and its
	// connection closed. Defaults to DefaultMinBodyRate (16 KiB/s).
	MinBodyRate int64

	// BodyGrace is the time every body is given before MinBodyRate counts.
	// Defaults to DefaultBodyGrace (2s).
	BodyGrace time.Duration

	// MaxBodyTime bounds the time any body may take to arrive. Defaults to
	// DefaultMaxBodyTime (30s).
	MaxBodyTime time.Duration

	// SlowBodyAfter is when a body still arriving counts as slow, for the
	// memory budget. Defaults to DefaultSlowBodyAfter (1s).
	SlowBodyAfter time.Duration

	// RejectionBodyMaxBytes is how much of a rejected request's body is
	// kept; the whole body's length and SHA-256 are kept with it. Defaults
	// to DefaultRejectionBodyMaxBytes.
	RejectionBodyMaxBytes int64

	// RejectionLimits bound the rejection log.
	RejectionLimits store.RejectionLimits

	// RejectionQueue bounds the rejections of one reason waiting to be
	// diagnosed and kept. While a reason's are all waiting, the next ones
	// of that reason are counted, not kept. Defaults to 16.
	RejectionQueue int

	// AnswerWithin bounds how long a webhook waits for the store, from its
	// arrival: an event whose write is not confirmed by then is answered
	// 503 with Retry-After, whatever the store is doing (a database that
	// does not answer, a connection being made, a commit stuck behind a
	// lock). Its outcome is unknown: it may still be stored, and the
	// sender's retry is then answered as a duplicate. Sent waits 5s for
	// an answer. Defaults to DefaultAnswerWithin.
	AnswerWithin time.Duration

	// RetryAfter is what a 503 asks the sender to wait. Defaults to 1s.
	RetryAfter time.Duration

	// Metrics receives counts and latencies. Defaults to metrics that are
	// not registered anywhere.
	Metrics *Metrics

	// RouteFunc names the destinations of an event (by its type, and its
	// content for a destination with a filter); Append creates their
	// deliveries with the event. Defaults to none.
	RouteFunc func(ev *store.EventData) []string

	// OnAccept, when set, is called after a new (non-duplicate) event was
	// stored, after the answer was decided; it must not block.
	OnAccept func(store.AppendResult)

	// Observe, when set, is called once for every answered request with
	// what became of it, after the answer is written and before the
	// handler returns, so before net/http sends it: it adds to the answer's
	// latency, and must be cheap and never block. Hand the Observation off
	// and return. Defaults to none.
	Observe func(Observation)

	// TracerProvider, when set, traces each webhook: a SERVER span that
	// continues the sender's traceparent, and a child span for the store
	// append whose context is stored with the event (Event.TraceParent).
	// Defaults to none: no span, no header read, nothing stored.
	TracerProvider trace.TracerProvider

	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// NowFunc defaults to time.Now.
	NowFunc func() time.Time

	// NewIDFunc makes the id of an event whose body's SHA-256 is bodySum.
	// Defaults to store.NewEventID: a UUIDv7 ending with the body's hash,
	// which the store finds short ids through.
	NewIDFunc func(bodySum [sha256.Size]byte) string
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("receiver: Config.Store is required")
	case c.Verifier == nil && len(c.Endpoints) == 0:
		return errors.New("receiver: Config.Verifier is required")
	case c.Verifier != nil && len(c.Secrets) == 0:
		return errors.New("receiver: Config.Secrets is required")
	}
	for i, ep := range c.Endpoints {
		if ep.Name == "" || ep.Path == "" || ep.Source == nil {
			return fmt.Errorf("receiver: Config.Endpoints[%d] needs a Name, a Path and a Source", i)
		}
	}
	if c.Tolerance == 0 {
		c.Tolerance = signature.DefaultTolerance
	}
	if c.Source == "" {
		c.Source = "sent"
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	least := minBudget(c.MaxBodyBytes)
	if c.MemoryBudgetBytes <= 0 {
		c.MemoryBudgetBytes = max(DefaultMemoryBudgetBytes, least)
	}
	if c.MemoryBudgetBytes < least {
		return fmt.Errorf("a memory budget of %s cannot hold a body of the largest size allowed, %s: give it at least %s",
			humanize.IBytes(uint64(c.MemoryBudgetBytes)), humanize.IBytes(uint64(c.MaxBodyBytes)), humanize.IBytes(uint64(least)))
	}
	if c.MinBodyRate <= 0 {
		c.MinBodyRate = DefaultMinBodyRate
	}
	if c.BodyGrace <= 0 {
		c.BodyGrace = DefaultBodyGrace
	}
	if c.MaxBodyTime <= 0 {
		c.MaxBodyTime = DefaultMaxBodyTime
	}
	if c.SlowBodyAfter <= 0 {
		c.SlowBodyAfter = DefaultSlowBodyAfter
	}
	if c.RejectionBodyMaxBytes <= 0 {
		c.RejectionBodyMaxBytes = DefaultRejectionBodyMaxBytes
	}
	c.RejectionLimits = c.RejectionLimits.WithDefaults()
	if c.RejectionQueue <= 0 {
		c.RejectionQueue = 16
	}
	if c.AnswerWithin <= 0 {
		c.AnswerWithin = DefaultAnswerWithin
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.NewIDFunc == nil {
		c.NewIDFunc = store.NewEventID
	}
	return nil
}

// Observation is what became of one answered request, for tools that watch
// the traffic as it arrives (hooklatch listen). Its fields share memory
// with the request: treat them as read-only.
type Observation struct {
	// At is when the request arrived.
	At time.Time
	// Method is the request's method.
	Method string
	// Outcome is the metrics label of what happened: "accepted",
	// "duplicate", "attention" (accepted, but odd: see Event.Attention),
	// "rejected" (signature), "too_large", "bad_method", "bad_request",
	// "over_budget" (503: the memory budget could not hold the body),
	// "too_slow" (408: the body arrived slower than Config.MinBodyRate),
	// "unavailable" (the store could not take the event), "handshake" (a
	// provider's endpoint check, answered with its own status) or
	// "not_found" (no source at this path).
	Outcome string
	// StatusCode is the HTTP status answered.
	StatusCode int
	// Event is the event built from a verified request: for a new event the
	// one stored, with its body; for a duplicate the same parse of the
	// request, which was not stored (Result.EventID names the stored one);
	// for "unavailable" the one the store could not take. Nil when the
	// request did not verify.
	Event *store.NewEvent
	// Result is what the store did with Event.
	Result store.AppendResult
	// Reason is the rejection's code (signature.ReasonCode), for "rejected".
	Reason string
	// Err is the verification error for "rejected", the store's error for
	// "unavailable", and nil otherwise.
	Err error
	// Header and Body are the request's, for "rejected" only: the evidence
	// to diagnose it with signature.Diagnose, off the request path. The
	// memory budget no longer counts Body once the handler returns.
	Header http.Header
	Body   []byte
}

// Endpoint is one source of another provider than Sent.
type Endpoint struct {
	// Name names the source in the store. Required.
	Name string
	// Path is the URL path its provider posts to. Required.
	Path string
	// Source verifies its requests and names their events. Required.
	Source source.Source
}

// SourcesByName are the endpoints' sources by name: how a rejection of one
// is verified again.
func SourcesByName(eps []Endpoint) map[string]source.Source {
	if len(eps) == 0 {
		return nil
	}
	m := make(map[string]source.Source, len(eps))
	for _, ep := range eps {
		m[ep.Name] = ep.Source
	}
	return m
}

// Receiver is the webhook endpoint, an http.Handler.
type Receiver struct {
	cfg       Config
	endpoints map[string]*Endpoint // by path; nil when there are none
	// counts are the request counters of Config.Source (sent), of each
	// endpoint by path, and of a path no source serves.
	counts, unserved *outcomeCounts
	endpointCounts   map[string]*outcomeCounts
	tracer           trace.Tracer // nil: tracing is off
	retryAfter       string
	budget           *budget
	bodies           *bodyPool

	waiting    *waiting
	stopOnce   sync.Once
	stop       chan struct{}
	done       chan struct{}
	outages    outages
	logs       rejectionLogs // the recorder's
	countErrAt time.Time     // the recorder's: when it last logged a failure to count
}

// New returns a Receiver and starts its rejection recorder; Close stops it.
func New(cfg Config) (*Receiver, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Receiver{
		cfg:        cfg,
		retryAfter: strconv.Itoa(int(max(cfg.RetryAfter.Round(time.Second)/time.Second, 1))),
		budget:     newBudget(cfg.MemoryBudgetBytes),
		bodies:     newBodyPool(cfg.MaxBodyBytes),
		waiting:    newWaiting(cfg.RejectionQueue),
		outages:    newOutages(cfg),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if cfg.TracerProvider != nil {
		r.tracer = cfg.TracerProvider.Tracer(tracing.Name)
	}
	for i := range cfg.Endpoints {
		if r.endpoints == nil {
			r.endpoints = map[string]*Endpoint{}
		}
		ep := &cfg.Endpoints[i]
		if _, dup := r.endpoints[ep.Path]; dup {
			return nil, fmt.Errorf("receiver: two sources at %s", ep.Path)
		}
		r.endpoints[ep.Path] = ep
		if r.endpointCounts == nil {
			r.endpointCounts = map[string]*outcomeCounts{}
		}
		r.endpointCounts[ep.Path] = cfg.Metrics.countsFor(ep.Name)
	}
	r.counts, r.unserved = cfg.Metrics.countsFor(cfg.Source), cfg.Metrics.countsFor("")
	cfg.Metrics.held.Store(&r.budget.used)
	go r.recordRejections()
	return r, nil
}

// Close stops taking rejections, keeps those waiting, flushes the counts
// and logs what is owed.
func (r *Receiver) Close() error {
	r.stopOnce.Do(func() {
		r.waiting.close()
		close(r.stop)
	})
	<-r.done
	r.outages.store.Flush()
	r.outages.budget.Flush()
	return nil
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	obs := Observation{At: start}
	var span trace.Span
	if r.tracer != nil {
		req, span = r.startServer(req, start)
	}
	var b body
	o := r.serve(w, req, start, &obs, &b)
	if span != nil {
		endServer(span, o, &obs)
	}
	took := time.Since(start)
	counts := r.counts
	if r.endpoints != nil {
		if c := r.endpointCounts[req.URL.Path]; c != nil {
			counts = c
		} else if r.cfg.Verifier == nil {
			counts = r.unserved
		}
	}
	r.cfg.Metrics.observe(counts, o, took)
	if r.cfg.Observe != nil {
		obs.Method = req.Method
		status := obs.StatusCode // a handshake's, the provider's
		obs.Outcome, obs.StatusCode = outcomes[o].label, outcomes[o].status
		if o == outcomeHandshake {
			obs.StatusCode = status
		}
		r.cfg.Observe(obs)
	}
	r.budget.release(b.held)
	// An event's body is the store's now, and a rejected one the
	// observer's; any other is free.
	switch {
	case o == outcomeRejected && r.cfg.Observe == nil, o == outcomeTooLarge, o == outcomeBadRequest, o == outcomeOverBudget, o == outcomeTooSlow,
		o == outcomeHandshake, o == outcomeNotFound:
		r.bodies.put(b.buf)
	}
}

// body is a request body as read: its buffer, and how much of the memory
// budget it holds until the request is answered.
type body struct {
	buf  []byte
	held int64
}

// serve answers the request and notes in obs what it found.
func (r *Receiver) serve(w http.ResponseWriter, req *http.Request, start time.Time, obs *Observation, b *body) outcome {
	if r.endpoints != nil {
		if ep := r.endpoints[req.URL.Path]; ep != nil {
			return r.serveSource(w, req, start, obs, b, ep)
		}
		if r.cfg.Verifier == nil {
			return answer(w, outcomeNotFound, `{"error":"not_found","detail":"no source at this path"}`)
		}
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return answer(w, outcomeBadMethod, `{"error":"method_not_allowed","detail":"webhooks are delivered with POST"}`)
	}
	if o := r.readBody(w, req, start, b); o != outcomeOK {
		return o
	}
	return r.handle(w, req, b.buf, obs)
}

// handle answers a request whose body was read.
func (r *Receiver) handle(w http.ResponseWriter, req *http.Request, body []byte, obs *Observation) outcome {
	res, err := r.cfg.Verifier.Verify(req.Header, body)
	if err != nil {
		reason := signature.ReasonCode(err)
		obs.Reason, obs.Err, obs.Header, obs.Body = reason, err, req.Header, body
		r.reject(req, nil, body, err, reason)
		return answer(w, outcomeRejected, `{"error":"invalid_signature","reason":"`+reason+`"}`)
	}

	now := r.cfg.NowFunc().UTC()
	return r.append(w, req, r.newEvent(req.Header, body, res, now), obs)
}

// serveSource answers a request to another provider's endpoint: its
// handshake, or its event verified by its Source and appended as Sent's
// are.
func (r *Receiver) serveSource(w http.ResponseWriter, req *http.Request, start time.Time, obs *Observation, b *body, ep *Endpoint) outcome {
	hs, _ := ep.Source.(source.Handshaker)
	if hs != nil && req.Method == http.MethodGet {
		if a, ok := hs.Handshake(req, nil); ok {
			obs.StatusCode = a.Status
			return handshake(w, a)
		}
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return answer(w, outcomeBadMethod, `{"error":"method_not_allowed","detail":"webhooks are delivered with POST"}`)
	}
	if o := r.readBody(w, req, start, b); o != outcomeOK {
		return o
	}
	v, err := ep.Source.Verify(req, b.buf)
	if err != nil {
		reason := signature.ReasonCode(err)
		obs.Reason, obs.Err, obs.Header, obs.Body = reason, err, req.Header, b.buf
		r.reject(req, ep, b.buf, err, reason)
		return answer(w, outcomeRejected, `{"error":"invalid_signature","reason":"`+reason+`"}`)
	}
	if hs != nil {
		if a, ok := hs.Handshake(req, b.buf); ok {
			obs.StatusCode = a.Status
			return handshake(w, a)
		}
	}
	sum := sha256.Sum256(b.buf) // hashed once: the id, and the store's dedupe by body
	ev := SourceEvent(r.cfg.NewIDFunc(sum), ep.Name, ep.Source.Provider(), req.Header, b.buf, v, r.cfg.NowFunc().UTC())
	ev.BodySHA256 = sum
	if r.cfg.RouteFunc != nil {
		ev.Destinations = r.cfg.RouteFunc(&ev.EventData)
	}
	return r.append(w, req, ev, obs)
}

// handshake writes a provider's handshake answer.
func handshake(w http.ResponseWriter, a source.Answer) outcome {
	w.Header().Set("Content-Type", a.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(a.Status)
	w.Write(a.Body)
	return outcomeHandshake
}

// append stores a verified request's event and answers with what the store
// did.
func (r *Receiver) append(w http.ResponseWriter, req *http.Request, ev *store.NewEvent, obs *Observation) outcome {
	// The store decides the outcome, not the connection: a sender that
	// half-closes or hangs up after a complete request must not turn a
	// stored event into a 503. Only the answer bound ends the wait.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(req.Context()), obs.At.Add(r.cfg.AnswerWithin))
	var span trace.Span
	if r.tracer != nil {
		ctx, span = r.startAppend(ctx, ev)
	}
	ar, err := r.cfg.Store.Append(ctx, ev)
	if span != nil {
		endAppend(span, ev, ar, err)
	}
	cancel()
	obs.Event, obs.Result, obs.Err = ev, ar, err
	if err != nil {
		r.storeFailed(ev, err)
		w.Header().Set("Retry-After", r.retryAfter)
		return answer(w, outcomeUnavailable, `{"error":"unavailable","detail":"the event could not be stored; retry later"}`)
	}
	r.outages.store.OK()

	w.Header().Set("Hooklatch-Event-Id", ar.EventID)
	if ar.Duplicate {
		w.Header().Set("Hooklatch-Duplicate", "true")
		return answer(w, outcomeDuplicate, `{"status":"duplicate","event_id":"`+ar.EventID+`","duplicate":true}`)
	}
	if r.cfg.OnAccept != nil {
		r.cfg.OnAccept(ar)
	}
	if ev.Attention != "" {
		return answer(w, outcomeAttention, `{"status":"accepted","event_id":"`+ar.EventID+`","duplicate":false,"attention":true}`)
	}
	return answer(w, outcomeAccepted, `{"status":"accepted","event_id":"`+ar.EventID+`","duplicate":false}`)
}

// readBody reads the whole body into b within the limit, the memory budget
// and the time a body may take. b holds what it took of the budget whatever
// the outcome.
//
// The budget is counted for bytes that arrive, not for bytes declared: the
// buffer starts at firstReadBytes (or the declared size, when smaller) and
// doubles only once full, so a sender holds at most twice what it sent.
// A declared size that could not fit now is still refused before a byte
// is read. Growth after SlowBodyAfter is held to the budget's slow ceiling.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, start time.Time, b *body) outcome {
	limit := r.cfg.MaxBodyBytes
	tooLarge := `{"error":"body_too_large","limit_bytes":` + strconv.FormatInt(limit, 10) + `}`
	if req.ContentLength > limit {
		return answer(w, outcomeTooLarge, tooLarge)
	}
	want := limit + 1 // +1 so the reader sees EOF without growing
	if req.ContentLength >= 0 {
		want = req.ContentLength + 1
	}
	if req.ContentLength >= 0 && !r.budget.fits(want, sizeClass(want)) {
		return r.overBudget(w)
	}
	size := r.bodies.size(min(want, firstReadBytes))
	if !r.budget.reserve(size, classSmall) {
		return r.overBudget(w)
	}
	r.outages.budget.OK()
	b.held, b.buf = size, r.bodies.get(size)

	// A body must arrive at MinBodyRate after a grace: one that trickles
	// is cut rather than holding its connection and its share of the
	// budget. The deadline is lifted once the body is read, so that the
	// wait for the store is not cut by it.
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(start.Add(r.bodyTime(want))) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	rd := http.MaxBytesReader(w, req.Body, limit)
	for {
		n, err := rd.Read(b.buf[len(b.buf):cap(b.buf)])
		b.buf = b.buf[:len(b.buf)+n]
		if err == io.EOF {
			return outcomeOK
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return answer(w, outcomeTooLarge, tooLarge)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				w.Header().Set("Connection", "close")
				return answer(w, outcomeTooSlow, `{"error":"body_too_slow","detail":"the body arrived too slowly"}`)
			}
			return answer(w, outcomeBadRequest, `{"error":"bad_request","detail":"could not read the body"}`)
		}
		if len(b.buf) == cap(b.buf) {
			// Full: double (up to what was declared), counting the growth
			// first.
			old := int64(cap(b.buf))
			grown := r.bodies.size(max(min(2*old, want), old+1))
			c := sizeClass(grown)
			if time.Since(start) > r.cfg.SlowBodyAfter {
				c = classSlow
			}
			if !r.budget.reserve(grown-old, c) {
				return r.overBudget(w)
			}
			b.held += grown - old
			next := append(r.bodies.get(grown), b.buf...)
			r.bodies.put(b.buf)
			b.buf = next
		}
	}
}

// sizeClass is the budget's class for a body of n bytes arriving briskly.
func sizeClass(n int64) class {
	if n <= smallBodyBytes {
		return classSmall
	}
	return classLarge
}

// bodyTime is how long a body of n bytes may take to arrive.
func (r *Receiver) bodyTime(n int64) time.Duration {
	rate := time.Duration(n) * time.Second / time.Duration(r.cfg.MinBodyRate)
	return min(r.cfg.BodyGrace+rate, r.cfg.MaxBodyTime)
}

// overBudget answers a request whose body the memory budget cannot hold.
// The body is left unread and the connection closed, so as not to spend
// more on it.
func (r *Receiver) overBudget(w http.ResponseWriter) outcome {
	r.outages.budget.Fail(errOverBudget)
	w.Header().Set("Retry-After", r.retryAfter)
	w.Header().Set("Connection", "close")
	return answer(w, outcomeOverBudget, `{"error":"unavailable","detail":"too many request bodies in flight; retry later"}`)
}

// newEvent builds the event to store.
func (r *Receiver) newEvent(h http.Header, body []byte, res signature.Result, now time.Time) *store.NewEvent {
	sum := sha256.Sum256(body) // hashed once: the id, and the store's dedupe by body
	ev := NewEvent(r.cfg.NewIDFunc(sum), r.cfg.Source, string(res.Scheme), h, body, now)
	ev.BodySHA256 = sum
	if r.cfg.RouteFunc != nil {
		ev.Destinations = r.cfg.RouteFunc(&ev.EventData)
	}
	return ev
}

// NewEvent builds the event stored for a verified request. A body that
// does not parse, or an event type hooklatch does not know, gives an event
// all the same, marked for attention: Sent cannot fix it by retrying, and
// non-2xx answers count toward disabling the endpoint.
func NewEvent(id, source, scheme string, h http.Header, body []byte, receivedAt time.Time) *store.NewEvent {
	ev := &store.NewEvent{EventData: store.EventData{
		ID:         id,
		Source:     source,
		ReceivedAt: receivedAt,
		Scheme:     scheme,
		Headers:    keptHeaders(h),
		Body:       body,
	}}
	env, err := event.Parse(body)
	ev.DedupeKey = event.DedupeKey(h, body, env)
	if err != nil {
		ev.Attention = "unparseable: " + err.Error()
		return ev
	}
	subject := env.Subject()
	ev.Field = env.Field
	ev.Type = env.Type()
	ev.SubjectKind = subject.Kind
	ev.Subject = subject.ID
	ev.Status = env.Status()
	ev.OccurredAt = env.Timestamp
	if !env.Known() {
		ev.Attention = "unknown type: " + ev.Type
	}
	return ev
}

// SourceEvent builds the event stored for a request another provider's
// Source verified. Its identity is the provider's event id, else the
// body's hash; its scheme is the provider's name. Every header but
// credentials is kept: a provider's headers say what its event is.
func SourceEvent(id, name, provider string, h http.Header, body []byte, v source.Verified, receivedAt time.Time) *store.NewEvent {
	return &store.NewEvent{EventData: store.EventData{
		ID:         id,
		Source:     name,
		ReceivedAt: receivedAt,
		Scheme:     provider,
		Headers:    rejectionHeaders(h),
		Body:       body,
		DedupeKey:  event.ProviderDedupeKey(v.EventID, body),
		Type:       v.Type,
		Subject:    v.Subject,
		OccurredAt: v.Timestamp,
	}}
}

// keptHeaders are the request headers stored with an event: Sent's own
// (under Sent's, Standard Webhooks' or Svix's names) and the few that help
// tracing. Names are lower-case.
func keptHeaders(h http.Header) map[string]string {
	out := make(map[string]string, 6)
	for name, values := range h {
		lower := strings.ToLower(name)
		switch {
		case strings.HasPrefix(lower, "x-webhook-"),
			strings.HasPrefix(lower, "webhook-"), strings.HasPrefix(lower, "svix-"),
			lower == "content-type", lower == "user-agent",
			lower == "x-request-id", lower == "traceparent":
			out[lower] = strings.Join(values, ", ")
		}
	}
	return out
}

// credentialHeaders are never kept, not even for a rejection.
var credentialHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "x-api-key": true,
}

// rejectionHeaders keeps every request header but credentials: a rejected
// request is kept to find out why, and the headers are the evidence.
func rejectionHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for name, values := range h {
		lower := strings.ToLower(name)
		if credentialHeaders[lower] {
			continue
		}
		out[lower] = strings.Join(values, ", ")
	}
	return out
}
