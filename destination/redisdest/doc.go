// Package redisdest appends events to a Redis stream, for workers that
// read it with XREADGROUP or XREAD.
//
//	cfg, err := redisdest.ParseURL("redis://127.0.0.1:6379/0?stream=sent-events")
//	dest, err := redisdest.New(cfg)
//	defer dest.Close()
//
// # The entry
//
// Each event is one stream entry whose fields are
//
//	body                    the event's raw body, byte for byte
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
// # Confirmed and appended once
//
// A delivery succeeds when Redis answers that the entry is in the stream.
// The append is a Lua script that runs atomically: it looks for the key
// hooklatch:seen:{STREAM}:EVENT_ID, appends only when it is missing, and
// then sets it to the entry's ID for Config.DedupeWindow (24h by default).
// So a retry whose first attempt reached Redis but lost its answer finds
// the entry and appends no second one, and the attempt's record says
// "already in the stream as entry …". The event ID is what stays stable
// across attempts and replays, so it is the key; a replay within the window
// is therefore not appended again. With Config.MaxLen the stream is trimmed
// to about that many entries (XADD MAXLEN ~).
//
// # Failures
//
// The Destination talks to one Redis server (go-redis's Client), not to a
// Redis Cluster; the braces in the seen key are there for when it does.
//
// WRONGTYPE (the key holds something other than a stream), NOPERM, NOAUTH
// and WRONGPASS are permanent; no connection, a timeout, OOM and anything
// else are temporary. go-redis keeps one pool of connections per
// Destination and redials as needed; Config.MaxInFlight bounds the appends
// waiting at once, and Close waits for them.
package redisdest
