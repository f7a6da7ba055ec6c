// Package natsdest publishes events to a NATS JetStream stream, for workers
// that consume it with a durable consumer.
//
//	cfg, err := natsdest.ParseURL("nats://127.0.0.1:4222?subject=sent.events&stream=SENT")
//	dest, err := natsdest.New(cfg)
//	defer dest.Close()
//
// # The message
//
// Each event is one message on Config.Subject whose data is the event's
// raw body, byte for byte, with these headers:
//
//	Nats-Msg-Id             the event's ID, for JetStream's duplicate window
//	hooklatch-event-id      the event's ID: dedupe on it
//	hooklatch-event-type    message.delivered, …
//	hooklatch-subject       the message_id or template_id
//	hooklatch-received-at   when hooklatch stored it, RFC 3339, UTC
//	hooklatch-attempt       1, 2, …
//	hooklatch-delivery-id   this event to this destination, a decimal number
//	hooklatch-stale         true when a later state of the subject had already
//	                        been received, else false (see docs/ordering.md)
//	hooklatch-subject-status
//	                        the subject's latest status then; empty without one
//	hooklatch-source        the source it came in on: sent, or a configured source
//
// the same metadata, under the same names, that every broker destination
// sends (destination.MetadataNames).
//
// # Confirmed and stored once
//
// A delivery succeeds when the stream acknowledges the message (a
// synchronous JetStream publish). Nats-Msg-Id is the event's ID, so a retry
// whose first attempt was stored but whose acknowledgement was lost is
// acknowledged as a duplicate and not stored again, as long as it comes
// within the stream's duplicate window. A stream that hooklatch creates
// (Config.Stream, when it does not exist) gets a window of
// Config.DedupeWindow, 24h by default, so that retries hours apart still
// dedupe; JetStream keeps the IDs of that window in memory. An existing
// stream is used as it is, with its own window (JetStream's default is two
// minutes). With Config.Stream set every publish also expects that stream,
// so a subject taken by another stream is a permanent failure.
//
// # Failures
//
// JetStream's 4xx answers (wrong stream, a stream that cannot be created),
// a message larger than the server allows and bad credentials are
// permanent. No connection, no acknowledgement in time, and no stream
// answering for the subject yet are temporary. One connection serves each
// Destination; nats.go reconnects with backoff forever, holding publishes
// made meanwhile in its buffer (whose retries then dedupe).
// Config.MaxInFlight bounds the publishes awaiting acknowledgement, and
// Close waits for them.
package natsdest
