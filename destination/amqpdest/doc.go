// Package amqpdest publishes events to RabbitMQ (AMQP 0-9-1) with publisher
// confirms, for workers that consume a queue.
//
//	cfg, err := amqpdest.ParseURL("amqp://guest:guest@127.0.0.1:5672/?exchange=sent&routing_key=events")
//	dest, err := amqpdest.New(cfg)
//	defer dest.Close()
//
// # The message
//
// Each event is one persistent message (delivery mode 2) whose body is the
// event's raw body, byte for byte, with the properties
//
//	message_id     the event's ID
//	content_type   as the event arrived (application/json when none)
//	type           the event's type
//	timestamp      when hooklatch stored it
//	app_id         hooklatch
//
// and these headers, the same metadata under the same names that every
// broker destination sends (destination.MetadataNames):
//
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
// # Confirmed, or refused out loud
//
// The channel is in confirm mode and every message is mandatory: a delivery
// succeeds when the broker acks it and did not return it. A message no
// queue takes comes back (basic.return, 312 NO_ROUTE) and is a permanent
// failure, not a message silently dropped. Publishing to an exchange that
// does not exist (404), access refused (403) and a declaration that
// conflicts with what exists (406) are permanent too; a nack, a lost
// connection and no confirmation in time are temporary.
//
// AMQP 0-9-1 has no deduplication: a retry after a confirmation was lost
// (the connection dropped after the broker stored the message) publishes
// the message again. Consumers dedupe on message_id, which is the same on
// every attempt.
//
// # Declaring
//
// Config.ExchangeType declares the exchange, durable, and Config.Queue a
// durable queue bound to it with the routing key, on every connection;
// without them both must exist. With only a queue, messages go through the
// default exchange, by the queue's name.
//
// # Connection
//
// One connection and one channel serve each Destination. When the
// connection drops, what awaits confirmation fails at once (temporary) and
// the next delivery dials again, one dial at a time, after a backoff that
// grows from 100ms to 5s while dials keep failing. Config.MaxInFlight
// bounds the publishes awaiting confirmation, and Close waits for them.
package amqpdest
