package event

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrUnknownType is returned by Sample for a type name LookupType does not
// know.
var ErrUnknownType = errors.New("unknown event type")

// SampleOptions shape the body Sample builds.
type SampleOptions struct {
	// NowFunc gives the time the sample is stamped with (the envelope
	// timestamp and the payload's times), cut to the second. Defaults to
	// time.Now.
	NowFunc func() time.Time

	// Rand supplies the random bytes behind ids, numbers and choices.
	// Defaults to crypto/rand.Reader; pass a seeded reader (such as
	// math/rand/v2's ChaCha8) to get the same sample every time.
	Rand io.Reader

	// Legacy builds a gen 1 envelope: field "messages" or "templates", an
	// "id", no sub-type, a lower-case template status, gen 1 key order.
	// Only message and template types have one.
	Legacy bool

	// Gen3 builds a gen 3 envelope: "event" instead of "sub_type", and the
	// gen 3 payload keys (no inbound_number on outbound messages;
	// template_name, agent_id and updated_at instead).
	Gen3 bool
}

// Sample returns a realistic body for the named event type (any name
// LookupType accepts), as compact JSON in the key order Sent uses: UUIDv4
// ids, numbers in the fictional +1 415 555-01xx range, the timestamp of
// NowFunc in second precision with a Z, a channel that fits the type (read
// only on whatsapp or rcs; filtered and blocked as "auto"), template names
// and categories. An unknown name fails with ErrUnknownType and the closest
// names.
//
// Parse(Sample(t)) has Type() == t for every catalog type, in every
// generation.
func Sample(typeName string, opts SampleOptions) ([]byte, error) {
	info, ok := LookupType(typeName)
	if !ok {
		hint := ""
		if near := closeTypes(typeName); len(near) > 0 {
			hint = " (did you mean " + strings.Join(near, ", ") + "?)"
		}
		return nil, fmt.Errorf("%w %q%s", ErrUnknownType, typeName, hint)
	}
	if opts.Legacy && opts.Gen3 {
		return nil, errors.New("event: sample: Legacy and Gen3 exclude each other")
	}
	fam, ev, _ := strings.Cut(info.Name, ".")
	if opts.Legacy && fam != FamilyMessage && fam != FamilyTemplate {
		return nil, fmt.Errorf("event: sample: %s has no legacy (gen 1) form; gen 1 carried only messages and templates", info.Name)
	}
	now := time.Now
	if opts.NowFunc != nil {
		now = opts.NowFunc
	}
	g := &sampler{r: opts.Rand, legacy: opts.Legacy, gen3: opts.Gen3}
	if g.r == nil {
		g.r = rand.Reader
	}
	g.now = now().UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")

	var env object
	if opts.Legacy {
		env = append(env, member{"id", "evt_" + g.hex(12)})
	}
	field := info.Field
	if opts.Legacy && fam == FamilyMessage {
		field = "messages"
	}
	env = append(env, member{"field", field})
	if fam != FamilyTemplate && !opts.Legacy {
		key := keySubType
		if opts.Gen3 {
			key = keyEvent
		}
		env = append(env, member{key, info.Name})
	}
	env = append(env, member{"timestamp", g.now})
	var payload object
	switch fam {
	case FamilyMessage:
		if ev == "received" {
			payload = g.inbound()
		} else {
			payload = g.outbound(ev)
		}
	case FamilyTemplate:
		payload = g.template(ev)
	case FamilyContact:
		env = append(env, member{keyRequestID, g.uuid()})
		payload = g.contact(ev)
	case FamilyChannel:
		env = append(env, member{keyRequestID, g.uuid()})
		payload = g.channel(ev)
	case FamilyCall:
		env = append(env, member{keyRequestID, g.uuid()})
		payload = g.call(ev)
	}
	env = append(env, member{"payload", payload})
	if g.err != nil {
		return nil, fmt.Errorf("event: sample: reading random bytes: %w", g.err)
	}
	return appendValue(nil, env), nil
}

// sampler draws the random parts of one sample.
type sampler struct {
	r            io.Reader
	err          error
	now          string
	legacy, gen3 bool
}

func (g *sampler) read(n int) []byte {
	b := make([]byte, n)
	if g.err == nil {
		_, g.err = io.ReadFull(g.r, b)
	}
	return b
}

// uuid returns a random (version 4) UUID.
func (g *sampler) uuid() string {
	b := g.read(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (g *sampler) intn(n int) int {
	return int(binary.BigEndian.Uint64(g.read(8)) % uint64(n))
}

func (g *sampler) pick(choices ...string) string { return choices[g.intn(len(choices))] }

func (g *sampler) hex(n int) string { return hex.EncodeToString(g.read(n)) }

func (g *sampler) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.intn(10))
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

// contactNumber and businessNumber are E.164 numbers from the range kept
// for fiction (555-0100 to 555-0199), split in two so they never meet.
func (g *sampler) contactNumber() string  { return "+14155550" + strconv.Itoa(100+g.intn(50)) }
func (g *sampler) businessNumber() string { return "+14155550" + strconv.Itoa(150+g.intn(50)) }

// sampleTemplates pairs template names with their categories.
var sampleTemplates = [][2]string{
	{"order_confirmation", "UTILITY"},
	{"appointment_reminder", "UTILITY"},
	{"shipping_update", "UTILITY"},
	{"login_code", "AUTHENTICATION"},
	{"spring_sale_2026", "MARKETING"},
}

// outbound builds the payload of an outbound message status.
func (g *sampler) outbound(ev string) object {
	channel := g.pick("sms", "whatsapp", "rcs")
	switch ev {
	case "read":
		channel = g.pick("whatsapp", "rcs")
	case "filtered", "blocked":
		channel = "auto"
	}
	account, msg, status := g.uuid(), g.uuid(), strings.ToUpper(ev)
	contact, business := g.contactNumber(), g.businessNumber()
	tmpl, tmplID := sampleTemplates[g.intn(len(sampleTemplates))], g.uuid()
	switch {
	case g.legacy:
		return object{
			{"channel", channel},
			{"account_id", account},
			{"message_id", msg},
			{"template_id", tmplID},
			{"inbound_number", contact},
			{"message_status", status},
			{"outbound_number", business},
		}
	case g.gen3:
		return object{
			{"account_id", account},
			{"message_id", msg},
			{"message_status", status},
			{"channel", channel},
			{"outbound_number", contact},
			{"template_id", tmplID},
			{"template_name", tmpl[0]},
			{"agent_id", "agent_" + g.hex(3)},
			{"updated_at", g.now},
		}
	}
	return object{
		{"account_id", account},
		{"message_id", msg},
		{"message_status", status},
		{"channel", channel},
		{"inbound_number", contact},
		{"outbound_number", business},
		{"template_id", tmplID},
	}
}

// inbound builds the payload of message.received.
func (g *sampler) inbound() object {
	channel := g.pick("sms", "whatsapp")
	text := g.pick("STOP", "Yes, please confirm my appointment", "What time do you open tomorrow?", "HELP")
	account, contact, business := g.uuid(), g.contactNumber(), g.businessNumber()
	if g.gen3 {
		return object{
			{"account_id", account},
			{"message_id", g.uuid()},
			{"channel", channel},
			{"inbound_number", contact},
			{"outbound_number", business},
			{"text", text},
			{"received_at", g.now},
			{"updated_at", g.now},
		}
	}
	return object{
		{"account_id", account},
		{"from", contact},
		{"to", business},
		{"text", text},
		{"channel", channel},
		{"provider", "Telnyx"},
		{"received_at", g.now},
	}
}

// template builds the payload of a template status.
func (g *sampler) template(ev string) object {
	tmpl := sampleTemplates[g.intn(len(sampleTemplates))]
	account, id, waID := g.uuid(), g.uuid(), g.digits(16)
	var reason any
	if ev == "rejected" {
		reason = g.pick("INVALID_FORMAT", "PROMOTIONAL", "TAG_CONTENT_MISMATCH", "INCORRECT_CATEGORY")
	}
	if g.legacy {
		o := object{
			{"status", ev},
			{"channel", "whatsapp"},
			{"category", tmpl[1]},
			{"language", "en"},
			{"account_id", account},
			{"template_id", id},
			{"template_name", tmpl[0]},
			{"whatsapp_template_id", waID},
		}
		if reason != nil {
			o = append(o, member{"reason", reason})
		}
		return o
	}
	return object{
		{"account_id", account},
		{"template_id", id},
		{"template_name", tmpl[0]},
		{"whatsapp_template_id", waID},
		{"status", strings.ToUpper(ev)},
		{"language", "en_US"},
		{"category", tmpl[1]},
		{"channel", "whatsapp"},
		{"reason", reason},
	}
}

// contact builds the payload of a contact event.
func (g *sampler) contact(ev string) object {
	optOut, text := false, "START"
	switch ev {
	case "opt_out":
		optOut, text = true, "STOP"
	case "help":
		text = "HELP"
	}
	return object{
		{"account_id", g.uuid()},
		{"contact_id", g.uuid()},
		{"phone_number", g.contactNumber()},
		{"channel", "sms"},
		{"opt_out", optOut},
		{"source", "INBOUND_KEYWORD"},
		{"message_id", g.uuid()},
		{"text", text},
	}
}

// channel builds the payload of a channel (provisioning) event.
func (g *sampler) channel(ev string) object {
	o := object{
		{"country", "US"},
		{"account_id", g.uuid()},
		{"channel", "sms"},
		{"number_type", "TEN_DLC"},
	}
	if ev == "activated" {
		return append(o,
			member{"sender_value", g.businessNumber()},
			member{"status", "ACTIVE"},
			member{"updated_at", g.now})
	}
	return append(o,
		member{"sender_value", nil},
		member{"status", "PENDING_REVIEW"},
		member{"reason", "Your 10DLC campaign registration is with the carriers for review."},
		member{"updated_at", g.now})
}

// call builds the payload of a call event.
func (g *sampler) call(ev string) object {
	o := object{
		{"account_id", g.uuid()},
		{"call_id", g.uuid()},
		{"channel", "voice"},
		{"number", g.contactNumber()},
	}
	switch ev {
	case "completed":
		secs := 15 + g.intn(586)
		price := float64((secs+59)/60) * 0.014
		o = append(o,
			member{"duration_seconds", secs},
			member{"price", rawJSON(strconv.FormatFloat(price, 'f', 3, 64))})
	case "failed":
		o = append(o, member{"reason", g.pick("NO_ANSWER", "BUSY", "UNREACHABLE")})
	case "recording_ready":
		o = append(o, member{"recording_id", g.uuid()})
	}
	return append(o, member{"updated_at", g.now})
}

// object is a JSON object that keeps its keys in order.
type object []member

type member struct {
	key string
	val any
}

// rawJSON is a value written as is.
type rawJSON string

// appendValue appends v as compact JSON. It knows the types samples use.
func appendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case rawJSON:
		return append(dst, v...)
	case object:
		dst = append(dst, '{')
		for i, m := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.key)
			dst = append(dst, ':')
			dst = appendValue(dst, m.val)
		}
		return append(dst, '}')
	}
	panic(fmt.Sprintf("event: appendValue: unsupported %T", v))
}
