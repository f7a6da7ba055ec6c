package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The typed payloads below have one field per key Sent documents (any
// generation), and Extra for every other key, so that decoding loses
// nothing and MarshalJSON writes the extra keys back (sorted, after the
// typed ones). Strings are kept as sent: compare statuses with
// strings.EqualFold, or use Envelope.Status. A JSON null decodes as "".

// MessageStatus is the payload of an outbound message event: queued,
// routed, sent, delivered, read, failed, scheduled, filtered, blocked.
//
// Which number is the recipient is not settled: gen 3 documents
// outbound_number as the recipient, a third-party library reads
// inbound_number so. Correlate by MessageID, not by number.
type MessageStatus struct {
	AccountID      string `json:"account_id,omitempty"`
	MessageID      string `json:"message_id,omitempty"`     // stable across the message's events
	MessageStatus  string `json:"message_status,omitempty"` // as sent: "DELIVERED"
	Channel        string `json:"channel,omitempty"`        // sms, whatsapp, rcs; "auto" when never routed
	InboundNumber  string `json:"inbound_number,omitempty"` // gen 1 and 2 only
	OutboundNumber string `json:"outbound_number,omitempty"`
	TemplateID     string `json:"template_id,omitempty"`
	TemplateName   string `json:"template_name,omitempty"` // gen 3
	AgentID        string `json:"agent_id,omitempty"`      // gen 3 (one gen 2 page too)
	UpdatedAt      string `json:"updated_at,omitempty"`    // gen 3: when the status was reached

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// InboundMessage is the payload of message.received. Gen 2 names the
// numbers from and to; gen 3 inbound_number (the contact's) and
// outbound_number (yours). Both are kept as sent, and From and To are
// filled from the gen 3 keys when the gen 2 ones are absent, so From is
// always the sender and To your number.
type InboundMessage struct {
	AccountID      string `json:"account_id,omitempty"`
	MessageID      string `json:"message_id,omitempty"` // gen 3 only
	Channel        string `json:"channel,omitempty"`
	From           string `json:"from,omitempty"` // sender; gen 2, else inbound_number
	To             string `json:"to,omitempty"`   // your number; gen 2, else outbound_number
	InboundNumber  string `json:"inbound_number,omitempty"`
	OutboundNumber string `json:"outbound_number,omitempty"`
	Text           string `json:"text,omitempty"`     // null (media only) gives ""
	Provider       string `json:"provider,omitempty"` // gen 2
	ReceivedAt     string `json:"received_at,omitempty"`
	UpdatedAt      string `json:"updated_at,omitempty"` // gen 3, same as received_at

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// Template is the payload of a template event.
type Template struct {
	AccountID          string `json:"account_id,omitempty"`
	TemplateID         string `json:"template_id,omitempty"`
	TemplateName       string `json:"template_name,omitempty"`
	WhatsAppTemplateID string `json:"whatsapp_template_id,omitempty"` // Meta's id; "" before review
	Status             string `json:"status,omitempty"`               // as sent: "APPROVED" or gen 1 "approved"
	Language           string `json:"language,omitempty"`             // en_US
	Category           string `json:"category,omitempty"`             // MARKETING, UTILITY, AUTHENTICATION
	Channel            string `json:"channel,omitempty"`
	Reason             string `json:"reason,omitempty"` // set on a rejection

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// Contact is the payload of a contact event (opt_in, opt_out, help).
type Contact struct {
	AccountID   string `json:"account_id,omitempty"`
	ContactID   string `json:"contact_id,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	Channel     string `json:"channel,omitempty"`
	OptOut      bool   `json:"opt_out"`
	Source      string `json:"source,omitempty"`     // INBOUND_KEYWORD or PROVIDER_SIGNAL
	MessageID   string `json:"message_id,omitempty"` // the message.received it came from, if any
	Text        string `json:"text,omitempty"`       // the keyword, e.g. STOP

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// ChannelUpdate is the payload of a channel (provisioning) event: where one
// market of a channel stands. Status is the stable part: PENDING_REVIEW,
// ACTION_NEEDED, PROVISIONING, ACTIVE or INACTIVE.
type ChannelUpdate struct {
	Country     string          `json:"country,omitempty"` // ISO 3166-1 alpha-2
	AccountID   string          `json:"account_id,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	NumberType  string          `json:"number_type,omitempty"`  // TEN_DLC, LOCAL, ALPHANUMERIC, …
	SenderValue string          `json:"sender_value,omitempty"` // null until a sender exists
	Status      string          `json:"status,omitempty"`
	Reason      string          `json:"reason,omitempty"`      // for people
	ReasonCode  string          `json:"reason_code,omitempty"` // CHANNEL_001, …; for code
	Compliance  json.RawMessage `json:"compliance,omitempty"`  // {brand, campaign, documents}
	UpdatedAt   string          `json:"updated_at,omitempty"`

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// Call is the payload of a call event. DurationSeconds and Price come with
// call.completed, Reason with call.failed, RecordingID with
// call.recording_ready.
type Call struct {
	CallID          string      `json:"call_id,omitempty"`
	AccountID       string      `json:"account_id,omitempty"`
	Channel         string      `json:"channel,omitempty"` // always voice
	Number          string      `json:"number,omitempty"`
	DurationSeconds int64       `json:"duration_seconds,omitempty"`
	Price           json.Number `json:"price,omitempty"` // exact as sent
	Reason          string      `json:"reason,omitempty"`
	RecordingID     string      `json:"recording_id,omitempty"`
	UpdatedAt       string      `json:"updated_at,omitempty"`

	// Extra holds the keys not above.
	Extra map[string]json.RawMessage `json:"-"`
}

// Message decodes the payload of an outbound message event. It fails with
// ErrWrongType on another family or on message.received (use Inbound), and
// with ErrBadPayload when there is no payload or it does not decode.
func (e *Envelope) Message() (*MessageStatus, error) {
	if e.Family() == FamilyMessage && e.Type() == "message.received" {
		return nil, fmt.Errorf("%w: Message on message.received; use Inbound", ErrWrongType)
	}
	return payloadAs[MessageStatus](e, FamilyMessage, "Message")
}

// Inbound decodes the payload of message.received, gen 2 or gen 3.
func (e *Envelope) Inbound() (*InboundMessage, error) {
	if e.Family() == FamilyMessage && e.Type() != "message.received" {
		return nil, fmt.Errorf("%w: Inbound on %s; use Message", ErrWrongType, e.Type())
	}
	return payloadAs[InboundMessage](e, FamilyMessage, "Inbound")
}

// Template decodes the payload of a template event.
func (e *Envelope) Template() (*Template, error) {
	return payloadAs[Template](e, FamilyTemplate, "Template")
}

// Contact decodes the payload of a contact event.
func (e *Envelope) Contact() (*Contact, error) {
	return payloadAs[Contact](e, FamilyContact, "Contact")
}

// ChannelUpdate decodes the payload of a channel event.
func (e *Envelope) ChannelUpdate() (*ChannelUpdate, error) {
	return payloadAs[ChannelUpdate](e, FamilyChannel, "ChannelUpdate")
}

// Call decodes the payload of a call event.
func (e *Envelope) Call() (*Call, error) {
	return payloadAs[Call](e, FamilyCall, "Call")
}

func payloadAs[T any](e *Envelope, family, accessor string) (*T, error) {
	if e.Family() != family {
		return nil, fmt.Errorf("%w: %s on %s", ErrWrongType, accessor, e.Type())
	}
	if e.Payload == nil {
		return nil, fmt.Errorf("%w: the envelope has no payload", ErrBadPayload)
	}
	v := new(T)
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	return v, nil
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra.
func (m *MessageStatus) UnmarshalJSON(data []byte) error {
	type plain MessageStatus
	var p plain
	extra, err := unmarshalWithExtra(data, &p, messageStatusKeys)
	*m = MessageStatus(p)
	m.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (m MessageStatus) MarshalJSON() ([]byte, error) {
	type plain MessageStatus
	return marshalWithExtra(plain(m), m.Extra, messageStatusKeys)
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra, From and To.
func (m *InboundMessage) UnmarshalJSON(data []byte) error {
	type plain InboundMessage
	var p plain
	extra, err := unmarshalWithExtra(data, &p, inboundKeys)
	*m = InboundMessage(p)
	m.Extra = extra
	if m.From == "" {
		m.From = m.InboundNumber
	}
	if m.To == "" {
		m.To = m.OutboundNumber
	}
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (m InboundMessage) MarshalJSON() ([]byte, error) {
	type plain InboundMessage
	return marshalWithExtra(plain(m), m.Extra, inboundKeys)
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra.
func (t *Template) UnmarshalJSON(data []byte) error {
	type plain Template
	var p plain
	extra, err := unmarshalWithExtra(data, &p, templateKeys)
	*t = Template(p)
	t.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (t Template) MarshalJSON() ([]byte, error) {
	type plain Template
	return marshalWithExtra(plain(t), t.Extra, templateKeys)
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra.
func (c *Contact) UnmarshalJSON(data []byte) error {
	type plain Contact
	var p plain
	extra, err := unmarshalWithExtra(data, &p, contactKeys)
	*c = Contact(p)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c Contact) MarshalJSON() ([]byte, error) {
	type plain Contact
	return marshalWithExtra(plain(c), c.Extra, contactKeys)
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra.
func (c *ChannelUpdate) UnmarshalJSON(data []byte) error {
	type plain ChannelUpdate
	var p plain
	extra, err := unmarshalWithExtra(data, &p, channelKeys)
	*c = ChannelUpdate(p)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c ChannelUpdate) MarshalJSON() ([]byte, error) {
	type plain ChannelUpdate
	return marshalWithExtra(plain(c), c.Extra, channelKeys)
}

// UnmarshalJSON implements json.Unmarshaler, filling Extra.
func (c *Call) UnmarshalJSON(data []byte) error {
	type plain Call
	var p plain
	extra, err := unmarshalWithExtra(data, &p, callKeys)
	*c = Call(p)
	c.Extra = extra
	return err
}

// MarshalJSON implements json.Marshaler, writing Extra back.
func (c Call) MarshalJSON() ([]byte, error) {
	type plain Call
	return marshalWithExtra(plain(c), c.Extra, callKeys)
}

// The json keys of each payload type, read from its tags.
var (
	messageStatusKeys = jsonKeys(reflect.TypeFor[MessageStatus]())
	inboundKeys       = jsonKeys(reflect.TypeFor[InboundMessage]())
	templateKeys      = jsonKeys(reflect.TypeFor[Template]())
	contactKeys       = jsonKeys(reflect.TypeFor[Contact]())
	channelKeys       = jsonKeys(reflect.TypeFor[ChannelUpdate]())
	callKeys          = jsonKeys(reflect.TypeFor[Call]())
)

func jsonKeys(t reflect.Type) map[string]bool {
	keys := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}

// unmarshalWithExtra decodes data into v (a pointer to a struct without
// methods) and returns copies of the members whose keys are not in known.
func unmarshalWithExtra(data []byte, v any, known map[string]bool) (map[string]json.RawMessage, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	m, ok := objectMembers(data)
	if !ok {
		return nil, nil // null
	}
	var extra map[string]json.RawMessage
	for {
		key, vs, ve, ok := m.next()
		if !ok {
			break
		}
		name, _ := unquote(key)
		if known[name] {
			continue
		}
		if extra == nil {
			extra = make(map[string]json.RawMessage)
		}
		extra[name] = json.RawMessage(bytes.Clone(data[vs:ve]))
	}
	return extra, nil
}

// marshalWithExtra encodes v (a struct without methods) and appends the
// extra members not in known, sorted by key.
func marshalWithExtra(v any, extra map[string]json.RawMessage, known map[string]bool) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = b[:len(b)-1] // reopen the object
	for _, k := range keys {
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var buf bytes.Buffer
		if err := json.Compact(&buf, extra[k]); err != nil {
			return nil, fmt.Errorf("event: extra member %q: %w", k, err)
		}
		b = append(b, buf.Bytes()...)
	}
	return append(b, '}'), nil
}
