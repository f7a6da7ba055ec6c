package event

// peek holds the few payload members that Type, Status and Subject read,
// as raw JSON slices of the payload. Reading them costs one pass over the
// payload's top level and no allocation; values are decoded on demand.
type peek struct {
	messageStatus, status                    []byte
	messageID, templateID, contactID, callID []byte
	phoneNumber, from, inboundNumber         []byte
	hasTo, hasText, hasReceivedAt            bool
}

// peekPayload scans p's top level. Any bytes are safe: a payload that is
// not an object gives an empty peek.
func peekPayload(p []byte) peek {
	pk, _ := peekValue(p, skipSpace(p, 0))
	return pk
}

// peekValue peeks at the value that starts at b[i] when it is an object,
// and returns where the value ends (-1 when it does not), so that a scan
// passing over a payload reads it in the same pass. Any bytes are safe.
func peekValue(b []byte, i int) (pk peek, end int) {
	if i >= len(b) || b[i] != '{' {
		return pk, valueEnd(b, i)
	}
	m := members{b: b, i: i + 1, open: i, close: -1, first: true}
	for {
		key, vs, ve, ok := m.next()
		if !ok {
			break
		}
		raw := b[vs:ve]
		switch string(keyText(key)) {
		case "message_status":
			pk.messageStatus = raw
		case "status":
			pk.status = raw
		case "message_id":
			pk.messageID = raw
		case "template_id":
			pk.templateID = raw
		case "contact_id":
			pk.contactID = raw
		case "call_id":
			pk.callID = raw
		case "phone_number":
			pk.phoneNumber = raw
		case "from":
			pk.from = raw
		case "inbound_number":
			pk.inboundNumber = raw
		case "to":
			pk.hasTo = true
		case "text":
			pk.hasText = true
		case "received_at":
			pk.hasReceivedAt = true
		}
	}
	if m.bad {
		return pk, -1
	}
	return pk, m.close + 1
}

// str decodes a peeked member that should be a string; "" otherwise.
func str(raw []byte) string {
	s, _ := unquote(raw)
	return s
}

// inbound reports whether the payload looks like an inbound message: it has
// no message_status, and has from/to/text or received_at.
func (pk *peek) inbound() bool {
	return pk.messageStatus == nil && (pk.from != nil || pk.hasTo || pk.hasText || pk.hasReceivedAt)
}

// reading is what Type, Status, Subject and Known answer, worked out from
// one peek at the payload. Parse makes it in its pass over the body and
// keeps it in the Envelope with the fields it was read from, so that the
// methods answer without scanning the payload again.
type reading struct {
	field, subType string // as read
	payload        []byte // as read: its identity, not a copy

	typ, status string
	subject     Subject
	known       bool
	made        bool // false in an Envelope not made by Parse
}

// read works the reading out of the envelope's fields.
func read(field, subType string, payload []byte) reading {
	pk := peekPayload(payload)
	return readPeek(field, subType, payload, &pk)
}

// readPeek works the reading out of the envelope's fields and pk, the peek
// at its payload.
func readPeek(field, subType string, payload []byte, pk *peek) reading {
	fam := familyOf(canon(field))
	r := reading{field: field, subType: subType, payload: payload, made: true}
	r.typ, r.known = typeOf(fam, subType, pk)
	r.status = statusOf(pk)
	r.subject = subjectOf(fam, pk)
	return r
}

// reading returns what Parse read, or reads the fields afresh when the
// Envelope was built by hand or its Field, SubType or Payload has been
// given another value since.
func (e *Envelope) reading() reading {
	r := &e.read
	if r.made && r.field == e.Field && r.subType == e.SubType && sameSlice(r.payload, e.Payload) {
		return *r
	}
	return read(e.Field, e.SubType, e.Payload)
}

// sameSlice reports whether a and b are the same bytes in memory.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
