// Package logdest is the destination that writes one structured log line
// per event: the default when hooklatch has nowhere else to send events, and
// a quick way to watch them arrive.
//
//	dest := logdest.New(logger)
//
// Each event becomes one line at level INFO with the message "event" and
// the snake_case keys event_id, type, subject_kind, subject, status, source,
// attempt, dedupe_key and stale (true when a later state of the subject had
// already been received), plus subject_status (the subject's latest status)
// when the event has a subject and attention when the event is odd
// (unparseable, unknown type). The body is never logged: it may hold personal data, and
// it is in the store for anyone who needs it.
//
// A log line cannot fail in a way worth retrying, so Deliver always
// succeeds.
package logdest
