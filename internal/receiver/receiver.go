// Package receiver is the webhook endpoint: limit → verify → parse →
// append → answer. It answers 2xx only after the event is durable, and
// anything that can wait (diagnosing a bad signature, keeping the rejected
// request) happens off the request path.
package receiver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// Defaults of the Config fields of the same names.
const (
	DefaultMaxBodyBytes          = 1 << 20
	DefaultMemoryBudgetBytes     = 64 << 20
	DefaultRejectionBodyMaxBytes = 64 << 10
)

// Config configures a Receiver.
type Config struct {
	// Store keeps accepted events and rejections. Required.
	Store store.Store

	// Verifier checks signatures. Required.
	Verifier *signature.Verifier

	// Secrets are the verifier's secrets, used to diagnose rejections off
	// the request path. Required.
	Secrets []signature.Secret

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
	// before it is read (by its Content-Length, or as it grows when it has
	// none); one that does not fit is answered 503 with Retry-After,
	// unread, and the sender retries. Bodies over 64 KiB may fill only
	// three quarters of the budget, so that a flood of large bodies leaves
	// room for ordinary webhooks; those three quarters must hold a body of
	// MaxBodyBytes. Defaults to DefaultMemoryBudgetBytes, or to the least
	// that holds a body of MaxBodyBytes when that is more.
	MemoryBudgetBytes int64

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

	// RetryAfter is what a 503 asks the sender to wait. Defaults to 1s.
	RetryAfter time.Duration

	// Metrics receives counts and latencies. Defaults to metrics that are
	// not registered anywhere.
	Metrics *Metrics

	// RouteFunc names the destinations of an event of type typ; Append
	// creates their deliveries with the event. Defaults to none.
	RouteFunc func(typ string) []string

	// OnAccept, when set, is called after a new (non-duplicate) event was
	// stored, after the answer was decided; it must not block.
	OnAccept func(store.AppendResult)

	// Observe, when set, is called once for every answered request with
	// what became of it, after the answer is written and before the
	// handler returns, so before net/http sends it: it adds to the answer's
	// latency, and must be cheap and never block. Hand the Observation off
	// and return. Defaults to none.
	Observe func(Observation)

	// Logger defaults to slog.Default().
	Logger *slog.Logger

	// NowFunc defaults to time.Now.
	NowFunc func() time.Time

	// NewIDFunc makes event ids. Defaults to UUIDv7 strings.
	NewIDFunc func() string
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("receiver: Config.Store is required")
	case c.Verifier == nil:
		return errors.New("receiver: Config.Verifier is required")
	case len(c.Secrets) == 0:
		return errors.New("receiver: Config.Secrets is required")
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
	if c.RejectionBodyMaxBytes <= 0 {
		c.RejectionBodyMaxBytes = DefaultRejectionBodyMaxBytes
	}
	c.RejectionLimits = c.RejectionLimits.WithDefaults()
	if c.RejectionQueue <= 0 {
		c.RejectionQueue = 16
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
		c.NewIDFunc = func() string { return uuid.Must(uuid.NewV7()).String() }
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
	// "over_budget" (503: the memory budget could not hold the body) or
	// "unavailable" (the store could not take the event).
	Outcome string
	// StatusCode is the HTTP status answered.
	StatusCode int
	// Event is the event built from a verified request: for a new event the
	// one stored, with its body; for a duplicate the same parse of the
	// request, which was not stored (Result.EventID names the stored one);
	// for "unavailable" the one the store could not take. Nil when the
	// request did not verify.
	Event *store.Event
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

// Receiver is the webhook endpoint, an http.Handler.
type Receiver struct {
	cfg        Config
	retryAfter string
	budget     *budget
	bodies     *bodyPool

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
	var obs Observation
	var b body
	o := r.serve(w, req, &obs, &b)
	took := time.Since(start)
	r.cfg.Metrics.observe(o, took)
	if r.cfg.Observe != nil {
		obs.At, obs.Method = start, req.Method
		obs.Outcome, obs.StatusCode = outcomes[o].label, outcomes[o].status
		r.cfg.Observe(obs)
	}
	r.budget.release(b.held)
	// An event's body is the store's now, and a rejected one the
	// observer's; any other is free.
	switch {
	case o == outcomeRejected && r.cfg.Observe == nil, o == outcomeTooLarge, o == outcomeBadRequest, o == outcomeOverBudget:
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
func (r *Receiver) serve(w http.ResponseWriter, req *http.Request, obs *Observation, b *body) outcome {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return answer(w, outcomeBadMethod, `{"error":"method_not_allowed","detail":"webhooks are delivered with POST"}`)
	}
	if o := r.readBody(w, req, b); o != outcomeOK {
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
		r.reject(req, body, err, reason)
		return answer(w, outcomeRejected, `{"error":"invalid_signature","reason":"`+reason+`"}`)
	}

	now := r.cfg.NowFunc().UTC()
	ev := r.newEvent(req.Header, body, res, now)
	ar, err := r.cfg.Store.Append(req.Context(), ev)
	obs.Event, obs.Result, obs.Err = ev, ar, err
	if err != nil {
		r.storeFailed(req.Context(), ev, err)
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

// readBody reads the whole body into b within the limit and the memory
// budget. b holds what it took of the budget whatever the outcome.
func (r *Receiver) readBody(w http.ResponseWriter, req *http.Request, b *body) outcome {
	limit := r.cfg.MaxBodyBytes
	tooLarge := `{"error":"body_too_large","limit_bytes":` + strconv.FormatInt(limit, 10) + `}`
	if req.ContentLength > limit {
		return answer(w, outcomeTooLarge, tooLarge)
	}
	size := int64(512)
	if req.ContentLength >= 0 {
		size = req.ContentLength + 1 // +1 so the reader sees EOF without growing
	}
	size = r.bodies.size(size)
	if !r.budget.reserve(size, size <= smallBodyBytes) {
		return r.overBudget(w)
	}
	r.outages.budget.OK()
	b.held, b.buf = size, r.bodies.get(size)
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
			return answer(w, outcomeBadRequest, `{"error":"bad_request","detail":"could not read the body"}`)
		}
		if len(b.buf) == cap(b.buf) {
			// No Content-Length: double, counting the growth first.
			old := int64(cap(b.buf))
			grown := r.bodies.size(old + max(min(old, limit+1-old), 512))
			if !r.budget.reserve(grown-old, grown <= smallBodyBytes) {
				return r.overBudget(w)
			}
			b.held += grown - old
			next := append(r.bodies.get(grown), b.buf...)
			r.bodies.put(b.buf)
			b.buf = next
		}
	}
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
func (r *Receiver) newEvent(h http.Header, body []byte, res signature.Result, now time.Time) *store.Event {
	ev := NewEvent(r.cfg.NewIDFunc(), r.cfg.Source, string(res.Scheme), h, body, now)
	if r.cfg.RouteFunc != nil {
		ev.Destinations = r.cfg.RouteFunc(ev.Type)
	}
	return ev
}

// NewEvent builds the event stored for a verified request. A body that
// does not parse, or an event type hooklatch does not know, gives an event
// all the same, marked for attention: Sent cannot fix it by retrying, and
// non-2xx answers count toward disabling the endpoint.
func NewEvent(id, source, scheme string, h http.Header, body []byte, receivedAt time.Time) *store.Event {
	ev := &store.Event{
		ID:         id,
		Source:     source,
		ReceivedAt: receivedAt,
		Scheme:     scheme,
		Headers:    keptHeaders(h),
		Body:       body,
	}
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

// keptHeaders are the request headers stored with an event: Sent's own and
// the few that help tracing. Names are lower-case.
func keptHeaders(h http.Header) map[string]string {
	out := make(map[string]string, 6)
	for name, values := range h {
		lower := strings.ToLower(name)
		switch {
		case strings.HasPrefix(lower, "x-webhook-"),
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
