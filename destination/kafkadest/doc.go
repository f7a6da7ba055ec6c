// Package kafkadest produces events to a Kafka topic, with acks=all and
// franz-go's idempotent producer.
//
//	cfg, err := kafkadest.ParseURL("kafka://127.0.0.1:9092?topic=sent-events")
//	dest, err := kafkadest.New(cfg)
//	defer dest.Close()
//
// # The record
//
// Each event is one record whose value is the event's raw body, byte for
// byte, keyed by the event's subject (its message_id or template_id; the
// event's ID when it has none), so that the statuses of one message land
// on one partition and stay in order. Its headers are the same metadata,
// under the same names, that every broker destination sends
// (destination.MetadataNames):
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
// # Confirmed
//
// A delivery succeeds when every in-sync replica has the record (acks=all).
// The idempotent producer makes franz-go's own retries of a produce request
// safe: the broker drops a batch it has already written. A retry by
// hooklatch, after an attempt whose acknowledgement never came, is a new
// record, so Kafka may hold the event twice: consumers dedupe on
// hooklatch-event-id.
//
// # Failures
//
// What the cluster refuses for good (a record larger than it takes, a topic
// name it does not allow, authorization) is permanent; no broker reachable,
// no acknowledgement in time and a leader moving are temporary. One client
// serves each Destination; it connects to brokers as it needs them and
// retries with backoff. Config.MaxInFlight bounds the records awaiting
// acknowledgement, and Close waits for them.
//
// # How it was tested
//
// No Kafka server runs on the machines this was built on. The tests run
// against franz-go's in-process cluster (github.com/twmb/franz-go/pkg/kfake),
// and kcat, built on librdkafka, reads back what was produced; the
// destination has not been run against Apache Kafka itself. TLS and SASL
// are not configurable yet.
package kafkadest
