package destination

import (
	"strconv"
	"time"
)

// Metadata names: what every broker destination attaches to a message, as
// headers (NATS, RabbitMQ, Kafka) or stream fields (Redis), named the same
// way everywhere. The message itself is the event's raw body, byte for
// byte.
const (
	// MetaEventID is hooklatch's event ID: stable across attempts and
	// replays, so a consumer deduplicates on it.
	MetaEventID = "hooklatch-event-id"
	// MetaEventType is the event's type, such as message.delivered; empty
	// when the envelope named none.
	MetaEventType = "hooklatch-event-type"
	// MetaSubject is what the event is about: the message_id or
	// template_id; empty when the envelope named none.
	MetaSubject = "hooklatch-subject"
	// MetaReceivedAt is when hooklatch stored the event, in RFC 3339 with
	// nanoseconds, UTC.
	MetaReceivedAt = "hooklatch-received-at"
	// MetaAttempt numbers the attempt among all those of the delivery,
	// from 1, replays included (destination.Delivery.Attempt).
	MetaAttempt = "hooklatch-attempt"
	// MetaDeliveryID identifies the delivery (this event to this
	// destination), in decimal: an opaque whole number, up to 2^63-1.
	MetaDeliveryID = "hooklatch-delivery-id"
	// MetaStale is "true" when a later state of the event's subject had
	// already been received when the delivery was claimed
	// (Delivery.Stale), else "false": always "false" for an event with no
	// subject.
	MetaStale = "hooklatch-stale"
	// MetaSubjectStatus is the status of the subject's latest state when
	// the delivery was claimed (Delivery.SubjectStatus); empty when the
	// event has no subject.
	MetaSubjectStatus = "hooklatch-subject-status"
	// MetaSource names the source the event came in on: "sent" by
	// default, else the name of a configured source (such as payments).
	MetaSource = "hooklatch-source"
)

// MetaTraceParent is the W3C traceparent a message carries while tracing
// is on (Delivery.TraceParent): the context of the attempt's PRODUCER span,
// in the trace of the webhook's receipt. It is not among MetadataNames: a
// message sent while tracing is off has none.
const MetaTraceParent = "traceparent"

// MetadataNames lists the metadata names in the order Metadata returns them.
var MetadataNames = [...]string{MetaEventID, MetaEventType, MetaSubject, MetaReceivedAt, MetaAttempt, MetaDeliveryID,
	MetaStale, MetaSubjectStatus, MetaSource}

// Field is one metadata name and its value.
type Field struct{ Name, Value string }

// Metadata returns d's metadata in the order of MetadataNames. Every name
// is present; a value the event lacks is empty.
func Metadata(d *Delivery) [len(MetadataNames)]Field {
	ev := d.Event
	return [...]Field{
		{MetaEventID, ev.ID},
		{MetaEventType, ev.Type},
		{MetaSubject, ev.Subject},
		{MetaReceivedAt, ev.ReceivedAt.UTC().Format(time.RFC3339Nano)},
		{MetaAttempt, strconv.Itoa(d.Attempt)},
		{MetaDeliveryID, strconv.FormatInt(d.ID, 10)},
		{MetaStale, strconv.FormatBool(d.Stale)},
		{MetaSubjectStatus, d.SubjectStatus},
		{MetaSource, ev.Source},
	}
}
