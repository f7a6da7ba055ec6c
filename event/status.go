package event

import "strings"

// Status returns payload.message_status upper-cased, else payload.status
// upper-cased (templates, channels), else "". Gen 1's "approved" and gen 2's
// "APPROVED" both give "APPROVED", so statuses compare with ==.
func (e *Envelope) Status() string { return e.reading().status }

// statusOf is Status for the peeked payload pk.
func statusOf(pk *peek) string {
	if s := normStatus(statusText(pk.messageStatus)); s != "" {
		return s
	}
	return normStatus(statusText(pk.status))
}

// statusText decodes a peeked status member. A message status sent as
// Status returns it, the common case, is returned without allocating.
func statusText(raw []byte) string {
	if len(raw) > 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		for _, s := range messageStatuses {
			if string(raw[1:len(raw)-1]) == s {
				return s
			}
		}
	}
	return str(raw)
}

// normStatus trims and upper-cases a status, bounded like a type name.
func normStatus(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxNamePart {
		s = s[:maxNamePart]
	}
	return strings.ToUpper(s)
}

// Message statuses, as Status returns them.
const (
	StatusScheduled = "SCHEDULED"
	StatusQueued    = "QUEUED"
	StatusProcessed = "PROCESSED"
	StatusRouted    = "ROUTED"
	StatusSent      = "SENT"
	StatusDelivered = "DELIVERED"
	StatusRead      = "READ"
	StatusFailed    = "FAILED"
	StatusFiltered  = "FILTERED"
	StatusBlocked   = "BLOCKED"
	StatusReceived  = "RECEIVED"
)

// messageStatuses lists the message statuses above.
var messageStatuses = [...]string{
	StatusScheduled, StatusQueued, StatusProcessed, StatusRouted, StatusSent, StatusDelivered,
	StatusRead, StatusFailed, StatusFiltered, StatusBlocked, StatusReceived,
}

// StatusRank places a message status on the happy path of an outbound
// message:
//
//	SCHEDULED < QUEUED < PROCESSED < ROUTED < SENT < DELIVERED < READ
//	    1         2         3          4       5        6        7
//
// Case does not matter. PROCESSED appears only in Sent's activity log, never
// in a webhook, but has its place. Everything off the path ranks 0: the
// failures (FAILED, FILTERED, BLOCKED), RECEIVED (inbound) and unknown
// statuses; IsTerminal and Supersedes deal with those.
func StatusRank(status string) int {
	switch normStatus(status) {
	case StatusScheduled:
		return 1
	case StatusQueued:
		return 2
	case StatusProcessed:
		return 3
	case StatusRouted:
		return 4
	case StatusSent:
		return 5
	case StatusDelivered:
		return 6
	case StatusRead:
		return 7
	}
	return 0
}

// IsTerminal reports whether no later status is expected for the message:
// READ (the end of the happy path), RECEIVED (an inbound message), and the
// failures FAILED, FILTERED and BLOCKED. DELIVERED is not terminal: READ may
// follow on WhatsApp and RCS, and Sent says a message can go SENT →
// DELIVERED → FAILED. Case does not matter.
func IsTerminal(status string) bool {
	switch normStatus(status) {
	case StatusRead, StatusReceived, StatusFailed, StatusFiltered, StatusBlocked:
		return true
	}
	return false
}

// isFailure reports whether status is one of the failure statuses.
func isFailure(status string) bool {
	switch status {
	case StatusFailed, StatusFiltered, StatusBlocked:
		return true
	}
	return false
}

// Supersedes reports whether an event with status next should replace a
// stored current status as the message's status. Every event is stored
// regardless; this only decides the "latest status" projection, for events
// that arrive out of order or are re-fired:
//
//   - nothing replaces itself, and "" replaces nothing; anything known
//     replaces "" or an unknown status;
//   - nothing replaces a terminal status (see IsTerminal): a late DELIVERED
//     after FAILED, or SENT after READ, arrived out of order;
//   - a failure (FAILED, FILTERED, BLOCKED) replaces any other status,
//     DELIVERED included: "count the latest status, not the journey";
//   - otherwise the higher StatusRank wins, so a re-fired QUEUED or ROUTED
//     after a reroute does not move the status backwards.
//
// Case does not matter.
func Supersedes(next, current string) bool {
	n, c := normStatus(next), normStatus(current)
	switch {
	case n == "" || n == c:
		return false
	case c == "":
		return true
	case IsTerminal(c):
		return false
	case isFailure(n):
		return true
	}
	rn, rc := StatusRank(n), StatusRank(c)
	if rc == 0 { // current unknown: anything known wins
		return rn > 0 || IsTerminal(n)
	}
	return rn > rc
}
