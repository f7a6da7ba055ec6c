package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Errors returned by Parse (and, for a malformed body, by Set). Parse wraps
// them with detail, so test them with errors.Is.
var (
	// ErrNotJSON is returned for a body that is empty or not valid JSON,
	// including JSON nested deeper than encoding/json's limit of 10000.
	ErrNotJSON = errors.New("event: body is not JSON")

	// ErrNotObject is returned for JSON whose top level is not an object.
	ErrNotObject = errors.New("event: not a JSON object")

	// ErrMissingField is returned when the envelope has no "field", or its
	// "field" is not a non-empty string.
	ErrMissingField = errors.New("event: envelope has no field")

	// ErrBadPayload is returned when "payload" (or "value") is present but
	// not an object, and by the typed accessors when the payload is missing
	// or does not decode.
	ErrBadPayload = errors.New("event: bad payload")

	// ErrWrongType is returned by a typed accessor asked for a payload the
	// event does not carry, such as Template on a message event.
	ErrWrongType = errors.New("event: payload of another type")
)

// Envelope is one webhook body from Sent, in any of its three generations:
//
//	gen 1  {"id", "field": "messages"|"templates", "timestamp", "payload"}
//	gen 2  {"field": "message"|"templates", "sub_type", "timestamp", "payload"}
//	gen 3  {"field": "message"|"templates"|"contact"|…, "event", "timestamp", "payload", "request_id"}
//
// Fields hold the envelope as sent; the methods (Family, Type, Status,
// Subject) give the normalised reading. Parse works Type, Status, Subject
// and Known out in its pass over the body, so the methods do not scan the
// payload again; on an Envelope built by hand, or once Field, SubType or
// Payload has been given another value, they read the fields afresh. (To
// change the payload, assign Payload a new slice rather than writing into
// its bytes.) Payload and Extra share one copy of the body made by Parse,
// so they stay valid whatever happens to the slice passed to Parse.
type Envelope struct {
	// ID is the envelope "id" (gen 1 only); "" otherwise. A JSON number is
	// kept as its literal text.
	ID string

	// Field is the event family as sent: "message", "messages",
	// "templates", "contact", …
	Field string

	// SubType is "sub_type", else "event", as sent ("message.delivered").
	SubType string

	// Timestamp is when Sent emitted the event, in UTC; zero when
	// "timestamp" is absent or unparseable.
	Timestamp time.Time

	// TimestampRaw is "timestamp" as sent (a JSON number as its literal).
	TimestampRaw string

	// RequestID is the optional "request_id".
	RequestID string

	// Payload is the "payload" object, else the "value" object; nil when
	// neither is present (or both are null).
	Payload json.RawMessage

	// Extra holds every top-level member the fields above do not carry:
	// unknown keys, a "value" shadowed by "payload", an "event" shadowed by
	// "sub_type", and known keys whose JSON type was not the expected one.
	// Nil when there are none.
	Extra map[string]json.RawMessage

	read reading // what Parse read for Type, Status, Subject and Known
}

// The envelope keys Parse interprets.
const (
	keyID        = "id"
	keyField     = "field"
	keySubType   = "sub_type"
	keyEvent     = "event"
	keyTimestamp = "timestamp"
	keyRequestID = "request_id"
	keyPayload   = "payload"
	keyValue     = "value"
)

// Parse reads a webhook body. It requires a JSON object with a non-empty
// string "field"; "payload" (or "value") must be an object when present.
// Everything else is tolerated: a missing or unparseable timestamp leaves
// Timestamp zero, unknown members go to Extra.
//
// Parse never panics and allocates in proportion to the body only; the
// caller bounds the body's size.
func Parse(body []byte) (*Envelope, error) {
	start := skipSpace(body, 0)
	if start == len(body) {
		return nil, fmt.Errorf("%w: empty body", ErrNotJSON)
	}
	if !json.Valid(body) {
		return nil, notJSON(body)
	}
	if body[start] != '{' {
		return nil, fmt.Errorf("%w: the body is %s", ErrNotObject, kind(body[start:]))
	}

	// One copy of the body; Payload and Extra values are slices of it,
	// capped so that appending to one cannot overwrite the next.
	buf := make([]byte, len(body))
	copy(buf, body)

	// Last occurrence wins, as with encoding/json. The scan peeks at the
	// payload's members as it passes over them, for the readings.
	var id, field, subType, evt, ts, reqID, payload, value []byte
	var pkPayload, pkValue peek
	var extra map[string]json.RawMessage
	m, _ := objectMembers(buf)
	for {
		key, vs, ok := m.nextKey()
		if !ok {
			break
		}
		k := keyText(key)
		var ve int
		switch string(k) {
		case keyPayload:
			pkPayload, ve = peekValue(buf, vs)
		case keyValue:
			pkValue, ve = peekValue(buf, vs)
		default:
			ve = valueEnd(buf, vs)
		}
		if !m.endValue(ve) {
			break
		}
		raw := buf[vs:ve:ve]
		switch string(k) {
		case keyField:
			field = raw
		case keySubType:
			subType = raw
		case keyEvent:
			evt = raw
		case keyPayload:
			payload = raw
		case keyValue:
			value = raw
		case keyTimestamp:
			ts = raw
		case keyID:
			id = raw
		case keyRequestID:
			reqID = raw
		default:
			name, _ := unquote(key)
			extra = addExtra(extra, name, raw)
		}
	}
	if m.bad { // unreachable after json.Valid; kept so a scanner bug cannot pass silently
		return nil, fmt.Errorf("%w: malformed object", ErrNotJSON)
	}

	env := &Envelope{}

	switch {
	case field == nil:
		return nil, fmt.Errorf("%w: no %q member", ErrMissingField, keyField)
	case field[0] != '"':
		return nil, fmt.Errorf("%w: %q is %s, want a string", ErrMissingField, keyField, kind(field))
	}
	env.Field, _ = unquote(field)
	if strings.TrimSpace(env.Field) == "" {
		return nil, fmt.Errorf("%w: %q is empty", ErrMissingField, keyField)
	}

	// payload ?? value; null counts as absent.
	if isNull(payload) {
		payload = nil
	}
	if isNull(value) {
		value = nil
	}
	var pk peek // at the payload kept
	switch {
	case payload != nil:
		pk = pkPayload
		if payload[0] != '{' {
			return nil, fmt.Errorf("%w: %q is %s, want an object", ErrBadPayload, keyPayload, kind(payload))
		}
		env.Payload = json.RawMessage(payload)
		if value != nil {
			extra = addExtra(extra, keyValue, value)
		}
	case value != nil:
		pk = pkValue
		if value[0] != '{' {
			return nil, fmt.Errorf("%w: %q is %s, want an object", ErrBadPayload, keyValue, kind(value))
		}
		env.Payload = json.RawMessage(value)
	}

	// sub_type ?? event.
	st, _ := stringOrKeep(&extra, keySubType, subType)
	ev, evOK := stringOrKeep(&extra, keyEvent, evt)
	switch {
	case st != "":
		env.SubType = st
		if evOK && ev != "" && ev != st {
			extra = addExtra(extra, keyEvent, evt)
		}
	case evOK:
		env.SubType = ev
	}

	// id: a string, or a number kept as its literal.
	if id != nil && kind(id) == "a number" {
		env.ID = string(id)
	} else {
		env.ID, _ = stringOrKeep(&extra, keyID, id)
	}

	env.RequestID, _ = stringOrKeep(&extra, keyRequestID, reqID)

	// timestamp: ISO-8601 string, or Unix seconds as a number.
	switch {
	case ts == nil || isNull(ts):
	case ts[0] == '"':
		env.TimestampRaw, _ = unquote(ts)
		env.Timestamp = parseTimestamp(env.TimestampRaw)
	case kind(ts) == "a number":
		env.TimestampRaw = string(ts)
		env.Timestamp = parseUnix(env.TimestampRaw)
	default:
		extra = addExtra(extra, keyTimestamp, ts)
	}

	env.Extra = extra
	env.read = readPeek(env.Field, env.SubType, env.Payload, &pk)
	return env, nil
}

// notJSON explains why body is not valid JSON.
func notJSON(body []byte) error {
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn) && strings.Contains(syn.Error(), "exceeded max depth"):
		return fmt.Errorf("%w: nested deeper than 10000 levels (offset %d)", ErrNotJSON, syn.Offset)
	case errors.As(err, &syn):
		return fmt.Errorf("%w: %v (offset %d)", ErrNotJSON, syn, syn.Offset)
	case err != nil:
		return fmt.Errorf("%w: %v", ErrNotJSON, err)
	default:
		return ErrNotJSON
	}
}

func isNull(raw []byte) bool { return len(raw) == 4 && string(raw) == "null" }

func addExtra(extra map[string]json.RawMessage, key string, raw []byte) map[string]json.RawMessage {
	if extra == nil {
		extra = make(map[string]json.RawMessage)
	}
	extra[key] = json.RawMessage(raw)
	return extra
}

// stringOrKeep decodes a known member that should be a string. Absent and
// null give ("", false); another JSON type is kept in extra so that nothing
// is lost.
func stringOrKeep(extra *map[string]json.RawMessage, key string, raw []byte) (string, bool) {
	if raw == nil || isNull(raw) {
		return "", false
	}
	if s, ok := unquote(raw); ok {
		return s, true
	}
	*extra = addExtra(*extra, key, raw)
	return "", false
}

// Timestamp layouts accepted, most likely first. RFC 3339 parsing accepts
// fractional seconds even when the layout has none.
var timestampLayouts = []string{
	time.RFC3339,                    // 2025-10-31T10:10:42Z, +00:00, .6841671
	"2006-01-02T15:04:05Z0700",      // +0000
	"2006-01-02 15:04:05Z07:00",     // space instead of T
	"2006-01-02T15:04:05",           // no offset: Sent documents UTC
	"2006-01-02T15:04:05.999999999", // idem, with a fraction
}

// parseTimestamp returns the time in UTC, or zero when s is not one of the
// accepted ISO-8601 forms.
func parseTimestamp(s string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) < len("2006-01-02T15:04:05") || len(s) > 64 {
		return time.Time{}
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// parseUnix reads Unix seconds (a JSON number, maybe fractional) within
// years 1970–9999; anything else gives zero.
func parseUnix(s string) time.Time {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 253402300799 || math.IsNaN(f) {
		return time.Time{}
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}
