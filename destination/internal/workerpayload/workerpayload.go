// Package workerpayload builds the parts of a task or job that every
// worker-native destination (Celery, BullMQ) carries the same way: the
// parsed event envelope, hooklatch's metadata, and the raw body.
package workerpayload

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination"
)

// Meta is hooklatch's metadata about one delivery, named as on every
// broker (hooklatch-event-id, …) with underscores, so that Python and
// JavaScript read them as plain keys.
type Meta struct {
	EventID     string `json:"event_id"`
	EventType   string `json:"event_type"`
	Subject     string `json:"subject"`
	SubjectKind string `json:"subject_kind"`
	ReceivedAt  string `json:"received_at"`
	Attempt     int    `json:"attempt"`
	// DeliveryID is a string: it can exceed what a JavaScript number holds.
	DeliveryID string `json:"delivery_id"`
	// Stale is true when a later state of the event's subject had already
	// been received when the delivery was claimed (hooklatch-stale on the
	// brokers); false for an event with no subject.
	Stale bool `json:"stale"`
	// SubjectStatus is the status of the subject's latest state then
	// (hooklatch-subject-status); empty for an event with no subject.
	SubjectStatus string `json:"subject_status"`
	// Source names the source the event came in on (hooklatch-source):
	// "sent" by default, else a configured source's name.
	Source string `json:"source"`
	// Attention is non-empty for an event hooklatch found odd
	// ("unparseable: …"); such events are forwarded all the same.
	Attention string `json:"attention,omitempty"`
	// TraceParent is the W3C traceparent of the attempt's span while
	// tracing is on (destination.Delivery.TraceParent); absent otherwise.
	TraceParent string `json:"traceparent,omitempty"`
}

// MetaOf returns the metadata for d.
func MetaOf(d *destination.Delivery) Meta {
	e := d.Event
	return Meta{
		EventID:       e.ID,
		EventType:     e.Type,
		Subject:       e.Subject,
		SubjectKind:   e.SubjectKind,
		ReceivedAt:    e.ReceivedAt.UTC().Format(time.RFC3339Nano),
		Attempt:       d.Attempt,
		DeliveryID:    strconv.FormatInt(d.ID, 10),
		Stale:         d.Stale,
		SubjectStatus: d.SubjectStatus,
		Source:        e.Source,
		Attention:     e.Attention,
		TraceParent:   d.TraceParent,
	}
}

// Envelope is the event body parsed as JSON, or JSON null when the body is
// not JSON (the raw body still travels beside it).
func Envelope(body []byte) json.RawMessage {
	if len(body) > 0 && json.Valid(body) && utf8.Valid(body) {
		return json.RawMessage(body)
	}
	return json.RawMessage("null")
}

// Raw is the raw body as JSON can carry it exactly: a string when the body
// is UTF-8 (every JSON body is), else base64.
type Raw struct {
	Body       *string `json:"raw_body"`
	BodyBase64 string  `json:"raw_body_base64,omitempty"`
}

// RawOf returns body in the form JSON carries without loss.
func RawOf(body []byte) Raw {
	if utf8.Valid(body) {
		s := string(body)
		return Raw{Body: &s}
	}
	return Raw{BodyBase64: base64.StdEncoding.EncodeToString(body)}
}
