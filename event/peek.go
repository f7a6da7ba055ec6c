package event

// peek holds the few payload members that Type, Status and Subject read,
// as raw JSON slices of the payload. Reading them costs one pass over the
// payload's top level and no allocation; values are decoded on demand.
type peek struct {
	messageStatus, status                      []byte
	messageID, templateID, contactID, callID   []byte
	phoneNumber, from, inboundNumber           []byte
	hasTo, hasText, hasReceivedAt, hasOutbound bool
}

// peekPayload scans p's top level. Any bytes are safe: a payload that is
// not an object gives an empty peek.
func peekPayload(p []byte) peek {
	var pk peek
	m, ok := objectMembers(p)
	if !ok {
		return pk
	}
	for {
		key, vs, ve, ok := m.next()
		if !ok {
			return pk
		}
		raw := p[vs:ve]
		if len(key) < 2 {
			continue
		}
		switch {
		case keyIs(key, "message_status"):
			pk.messageStatus = raw
		case keyIs(key, "status"):
			pk.status = raw
		case keyIs(key, "message_id"):
			pk.messageID = raw
		case keyIs(key, "template_id"):
			pk.templateID = raw
		case keyIs(key, "contact_id"):
			pk.contactID = raw
		case keyIs(key, "call_id"):
			pk.callID = raw
		case keyIs(key, "phone_number"):
			pk.phoneNumber = raw
		case keyIs(key, "from"):
			pk.from = raw
		case keyIs(key, "inbound_number"):
			pk.inboundNumber = raw
		case keyIs(key, "to"):
			pk.hasTo = true
		case keyIs(key, "text"):
			pk.hasText = true
		case keyIs(key, "received_at"):
			pk.hasReceivedAt = true
		case keyIs(key, "outbound_number"):
			pk.hasOutbound = true
		}
	}
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
