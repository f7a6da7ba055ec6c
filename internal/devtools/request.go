// Package devtools holds the developer tools behind `hooklatch trigger`,
// `send`, `listen` and `check`: requests built and signed as Sent builds
// them, a Sent emulator with its retry schedules and chaos options, a local
// listener, and a grader for webhook handlers.
package devtools

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
)

// Request is one webhook event as Sent sends it: a body, and what stays the
// same across its retries. Each attempt is signed afresh (Header).
type Request struct {
	// Name says what the request is, for output: the event type, or the
	// file it came from.
	Name string
	// Type is the envelope's event type, sent as X-Webhook-Event-Type; empty
	// when the body does not parse.
	Type string
	// EventID is sent as X-Webhook-Event-ID, the same on every retry.
	EventID string
	// Body is sent byte for byte.
	Body []byte
}

// NewRequest describes body as a request named name, with a new event id.
func NewRequest(name string, body []byte) *Request {
	r := &Request{Name: name, EventID: NewEventID(), Body: body}
	if env, err := event.Parse(body); err == nil {
		r.Type = env.Type()
	}
	return r
}

// NewEventID returns a new "evt_" id of 24 hex digits.
func NewEventID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}

// Signer signs requests as one Sent webhook endpoint does.
type Signer struct {
	Scheme signature.Scheme
	Secret signature.Secret
	// WebhookID is the endpoint's id, sent as X-Webhook-Id with V1.
	// Defaults to a random UUID for every request.
	WebhookID string
	// UserAgent names the sender. Defaults to "hooklatch".
	UserAgent string
}

// Header returns the headers of one attempt at r signed at now: the
// signature (and with V1 the timestamp), the event id and type.
func (s Signer) Header(r *Request, now time.Time) http.Header {
	h := signature.Sign(s.Scheme, s.Secret, r.Body, signature.SignOptions{WebhookID: s.WebhookID, Timestamp: now})
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", cmp.Or(s.UserAgent, "hooklatch"))
	if s.Scheme == signature.V1 {
		h.Set(signature.HeaderEventID, r.EventID)
		if r.Type != "" {
			h.Set(signature.HeaderEventType, r.Type)
		}
	}
	return h
}

// Answer is what one POST got back.
type Answer struct {
	StatusCode int           // 0 when there was no answer
	Status     string        // e.g. "200 OK"
	Body       []byte        // the first bytes of the answer
	Took       time.Duration // from sending to the answer's headers and body
	Err        error         // no answer: connection error or timeout
}

// OK reports a 2xx answer.
func (a Answer) OK() bool { return a.Err == nil && a.StatusCode/100 == 2 }

// String is "200 OK", or why there was no answer, briefly.
func (a Answer) String() string {
	switch {
	case a.Err == nil:
		return a.Status
	case errors.Is(a.Err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(a.Err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(a.Err, io.EOF) || errors.Is(a.Err, io.ErrUnexpectedEOF):
		return "connection closed without an answer"
	}
	if oe, ok := errors.AsType[*net.OpError](a.Err); ok && oe.Err != nil {
		return oe.Err.Error()
	}
	return a.Err.Error()
}

// maxAnswer bounds the answer body kept.
const maxAnswer = 4 << 10

// Post sends body with header to url and reads the answer; client's
// timeout (or ctx) bounds it.
func Post(ctx context.Context, client *http.Client, url string, header http.Header, body io.Reader) Answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return Answer{Err: err}
	}
	req.Header = header
	if b, ok := body.(interface{ Len() int }); ok {
		req.ContentLength = int64(b.Len())
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Answer{Took: time.Since(start), Err: unwrapURLError(err)}
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	a := Answer{StatusCode: resp.StatusCode, Status: resp.Status, Body: answer, Took: time.Since(start)}
	if err != nil {
		a.Err = fmt.Errorf("reading the answer: %w", err)
	}
	return a
}

// ErrTimeout is an Answer's Err when the deadline passed first.
var ErrTimeout = errors.New("no answer in time")

func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		if ue.Timeout() {
			return ErrTimeout
		}
		return ue.Err
	}
	return err
}

// Samples are the requests a command builds from event types or a file.
type Samples struct {
	Types    []string // catalog types; each gives Count new events
	File     string   // a body of your own instead of samples
	Sets     []string // path=value overrides applied to every body
	Envelope string   // gen1, gen2 or gen3; default gen2, gen1 for legacy message and template events
	Legacy   bool     // the requests will be signed with the legacy scheme
	Count    int      // of each; defaults to 1
	// NowFunc stamps the samples. Defaults to time.Now.
	NowFunc func() time.Time
}

// Build makes the requests. Its errors are the caller's mistakes (unknown
// type, unreadable file, bad --set).
func (s Samples) Build() ([]*Request, error) {
	if e := s.Envelope; e != "" && e != "gen1" && e != "gen2" && e != "gen3" {
		return nil, fmt.Errorf("envelope %q: want gen1, gen2 or gen3", e)
	}
	var file []byte
	if s.File != "" {
		var err error
		if file, err = os.ReadFile(s.File); err != nil {
			return nil, err
		}
	}
	names := s.Types
	if len(names) == 0 && s.File != "" {
		names = []string{s.File}
	}
	var out []*Request
	for _, name := range names {
		for range max(s.Count, 1) {
			body := file
			if file == nil {
				var err error
				if body, err = event.Sample(name, s.sampleOptions(name)); err != nil {
					return nil, err
				}
			}
			body, err := ApplySets(body, s.Sets)
			if err != nil {
				return nil, err
			}
			r := NewRequest(name, body)
			if env, err := event.Parse(body); err == nil && file == nil && env.ID != "" {
				// A gen1 sample's own id is its Sent event id: the
				// header carries the same, so either finds the event.
				r.EventID = env.ID
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ApplySets applies path=value overrides to body.
func ApplySets(body []byte, sets []string) ([]byte, error) {
	for _, s := range sets {
		path, value, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("set %q: want path=value", s)
		}
		var err error
		if body, err = event.Set(body, path, value); err != nil {
			return nil, fmt.Errorf("set %q: %w", s, err)
		}
	}
	return body, nil
}

// sampleOptions picks the envelope generation: as asked, else gen1 for a
// legacy-signed message or template event (the pair Sent sent then), else gen2.
func (s Samples) sampleOptions(typeName string) event.SampleOptions {
	envelope := s.Envelope
	if envelope == "" {
		envelope = "gen2"
		if t, ok := event.LookupType(typeName); ok && s.Legacy &&
			(t.Field == "message" || t.Field == "templates") {
			envelope = "gen1"
		}
	}
	return event.SampleOptions{NowFunc: s.NowFunc, Legacy: envelope == "gen1", Gen3: envelope == "gen3"}
}

// Lifecycle builds the status events of one outbound message, in the order
// given: statuses such as QUEUED, SENT, DELIVERED, READ, each a
// message.<status> event with the same message id. The given order is the
// order they happened in: each envelope's timestamp is a second after the
// one before, the last one now, so that shuffled they still say when each
// status was reached.
func Lifecycle(statuses []string, s Samples) ([]*Request, error) {
	if len(statuses) == 0 {
		return nil, errors.New("lifecycle: name at least one status")
	}
	now := time.Now()
	if s.NowFunc != nil {
		now = s.NowFunc()
	}
	messageID := uuid.NewString()
	var out []*Request
	for i, st := range statuses {
		name := "message." + strings.ToLower(strings.TrimSpace(st))
		if t, ok := event.LookupType(name); !ok || t.Field != "message" {
			return nil, fmt.Errorf("lifecycle: %q is not a message status (want QUEUED, SENT, DELIVERED, READ, FAILED, …)", st)
		}
		at := now.Add(time.Duration(i-len(statuses)+1) * time.Second)
		s.NowFunc = func() time.Time { return at }
		body, err := event.Sample(name, s.sampleOptions(name))
		if err != nil {
			return nil, err
		}
		if body, err = event.Set(body, "payload.message_id", messageID); err != nil {
			return nil, err
		}
		if body, err = ApplySets(body, s.Sets); err != nil {
			return nil, err
		}
		out = append(out, NewRequest(name, body))
	}
	return out, nil
}
