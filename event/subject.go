package event

// Subject kinds, as found in Subject.Kind.
const (
	SubjectMessage     = "message_id"
	SubjectTemplate    = "template_id"
	SubjectContact     = "contact_id"
	SubjectCall        = "call_id"
	SubjectPhoneNumber = "phone_number"
)

// Subject names the thing an event is about, so that the events of one
// message (or template, contact, call) can be gathered. Kind is the payload
// key the ID came from; both are "" when the event has no subject.
type Subject struct {
	Kind string
	ID   string
}

// String returns "kind=id", or "" for no subject.
func (s Subject) String() string {
	if s.Kind == "" {
		return ""
	}
	return s.Kind + "=" + s.ID
}

// IsZero reports whether s names nothing.
func (s Subject) IsZero() bool { return s.Kind == "" }

// Subject returns what the event is about:
//
//   - message: message_id; for a gen 2 inbound message, which has none,
//     the sender's number (from, else inbound_number) as phone_number;
//   - template: template_id;
//   - contact: contact_id, else phone_number;
//   - call: call_id;
//   - channel: none (a channel event is about a market: country, channel,
//     number type, sender, with no single id);
//   - other families: the first of message_id, template_id, contact_id,
//     call_id present.
//
// Only non-empty string members count.
func (e *Envelope) Subject() Subject { return e.reading().subject }

// subjectOf is Subject for an envelope of family fam with the peeked
// payload pk.
func subjectOf(fam string, pk *peek) Subject {
	switch fam {
	case FamilyMessage:
		return firstSubject(
			candidate{SubjectMessage, pk.messageID},
			candidate{SubjectPhoneNumber, pk.from},
			candidate{SubjectPhoneNumber, pk.inboundNumber})
	case FamilyTemplate:
		return firstSubject(candidate{SubjectTemplate, pk.templateID})
	case FamilyContact:
		return firstSubject(
			candidate{SubjectContact, pk.contactID},
			candidate{SubjectPhoneNumber, pk.phoneNumber})
	case FamilyCall:
		return firstSubject(candidate{SubjectCall, pk.callID})
	case FamilyChannel:
		return Subject{}
	}
	return firstSubject(
		candidate{SubjectMessage, pk.messageID},
		candidate{SubjectTemplate, pk.templateID},
		candidate{SubjectContact, pk.contactID},
		candidate{SubjectCall, pk.callID})
}

// candidate is a payload member that may name the subject.
type candidate struct {
	kind string
	raw  []byte
}

// firstSubject returns the first candidate that is a non-empty string.
func firstSubject(cands ...candidate) Subject {
	for _, c := range cands {
		if id := str(c.raw); id != "" {
			return Subject{Kind: c.kind, ID: id}
		}
	}
	return Subject{}
}
