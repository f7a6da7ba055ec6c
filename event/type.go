package event

import (
	"slices"
	"strings"
)

// Event families, as returned by Envelope.Family.
const (
	FamilyMessage  = "message"
	FamilyTemplate = "template"
	FamilyContact  = "contact"
	FamilyChannel  = "channel"
	FamilyCall     = "call"
)

// Family returns the normalised event family: "message" for field message
// or messages, "template" for templates or template, "contact", "channel",
// "call" (each also from its plural), else the field in canonical form
// (lower case, see Type).
func (e *Envelope) Family() string {
	return familyOf(canon(e.Field))
}

func familyOf(f string) string {
	switch f {
	case "message", "messages":
		return FamilyMessage
	case "template", "templates":
		return FamilyTemplate
	case "contact", "contacts":
		return FamilyContact
	case "channel", "channels":
		return FamilyChannel
	case "call", "calls":
		return FamilyCall
	}
	return f
}

// Type returns the canonical type name, "<family>.<event>", lower case:
//
//   - message: from the sub-type ("message.delivered", or just
//     "delivered"); without one, from payload.message_status (gen 1:
//     "DELIVERED" gives "message.delivered"); without that, an inbound
//     payload (from, to, text or received_at) gives "message.received";
//     else "message".
//   - template: "template." + payload.status ("approved" and "APPROVED"
//     both give "template.approved"); without a status, from a sub-type such
//     as "templates.approved"; else "template".
//   - contact, channel, call and unknown families: the family, plus the
//     event name from the sub-type when there is one ("contact.opt_out").
//
// The envelope's field decides the family; the sub-type supplies only the
// part after its first dot. Names are made canonical: ASCII lower case,
// characters outside [a-z0-9_.-] replaced by '_', each part cut to 64 bytes,
// so that a Type is always safe to log or use as a metric label.
func (e *Envelope) Type() string { return e.reading().typ }

// Known reports whether Type is in the catalog (Types).
func (e *Envelope) Known() bool { return e.reading().known }

// typeOf is Type, and Known, for an envelope of family fam with sub-type
// sub and the peeked payload pk.
func typeOf(fam, sub string, pk *peek) (name string, known bool) {
	var ev string
	switch fam {
	case FamilyMessage:
		if ev = suffix(sub); ev == "" {
			ev = canon(str(pk.messageStatus))
		}
		if ev == "" && pk.inbound() {
			ev = "received"
		}
	case FamilyTemplate:
		if ev = canon(str(pk.status)); ev == "" {
			ev = suffix(sub)
		}
	case "":
		return typeName(suffix(sub), "")
	default:
		ev = suffix(sub)
	}
	return typeName(fam, ev)
}

// typeName joins a family and an event name ("message", "delivered") into
// a type name ("message.delivered"; the family alone when ev is "") and
// reports whether the catalog has it. A catalog name is returned without
// allocating.
func typeName(fam, ev string) (name string, known bool) {
	if ev == "" {
		_, known = typeIndex[fam]
		return fam, known
	}
	var buf [2*maxNamePart + 1]byte
	b := append(append(append(buf[:0], fam...), '.'), ev...)
	if i, ok := typeIndex[string(b)]; ok {
		return Types[i].Name, true
	}
	return string(b), false
}

// suffix returns the event name a sub-type carries: the part after its
// first dot ("message.delivered" → "delivered"), or all of it when it has
// none, in canonical form.
func suffix(sub string) string {
	s := canon(sub)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// maxNamePart bounds each part of a canonical name.
const maxNamePart = 64

// canon returns s trimmed, ASCII lower-cased, with bytes outside
// [a-z0-9_.-] replaced by '_', cut to maxNamePart bytes. It does not
// allocate when s is already canonical.
func canon(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxNamePart {
		s = s[:maxNamePart]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case !nameByte(c):
			b[i] = '_'
		}
	}
	return string(b)
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// TypeInfo describes one event type of the catalog.
type TypeInfo struct {
	// Name is the canonical type name, as returned by Envelope.Type.
	Name string
	// Field is the envelope field current Sent sends for it.
	Field string
	// Description says what happened, in one line.
	Description string
}

// Types is the catalog of every event type in Sent's webhook contract, as
// far as it is public. Sent adds sub-types without notice (channel events
// in particular); an event outside the catalog still parses, its Known is
// false.
var Types = []TypeInfo{
	{"message.queued", "message", "Accepted, waiting to dispatch (re-fired on a reroute)."},
	{"message.routed", "message", "Assigned to a carrier or provider (re-fired on a reroute)."},
	{"message.sent", "message", "Dispatched to the carrier, WhatsApp or RCS; not yet confirmed."},
	{"message.delivered", "message", "Delivery to the device confirmed."},
	{"message.read", "message", "Opened by the recipient; WhatsApp and RCS only."},
	{"message.failed", "message", "Delivery failed, at any stage; may follow delivered."},
	{"message.received", "message", "Inbound message from a contact."},
	{"message.scheduled", "message", "Send deferred (quiet hours or a scheduled send)."},
	{"message.filtered", "message", "Stopped by a policy or consent gate, such as an opt-out."},
	{"message.blocked", "message", "Stopped by an account precondition, such as balance or an unapproved template."},
	{"template.approved", "templates", "Template approved; it can be used to send."},
	{"template.pending", "templates", "Template submitted and under review."},
	{"template.rejected", "templates", "Template rejected; the payload's reason says why."},
	{"contact.opt_in", "contact", "Contact opted in (for example START)."},
	{"contact.opt_out", "contact", "Contact opted out (for example STOP)."},
	{"contact.help", "contact", "Contact asked for help (HELP)."},
	{"channel.submitted", "channel", "Channel registration filed with a registry or carrier."},
	{"channel.activated", "channel", "Channel sender is live."},
	{"call.initiated", "call", "Voice call started."},
	{"call.answered", "call", "Voice call answered."},
	{"call.completed", "call", "Voice call ended; carries duration and price."},
	{"call.failed", "call", "Voice call did not complete; carries a reason."},
	{"call.recording_ready", "call", "A recording of the call is available."},
}

// typeIndex maps a catalog name to its index in Types.
var typeIndex = func() map[string]int {
	m := make(map[string]int, len(Types))
	for i, t := range Types {
		m[t.Name] = i
	}
	return m
}()

// lookupOrder is the family order in which a bare event name ("failed") is
// resolved.
var lookupOrder = []string{FamilyMessage, FamilyTemplate, FamilyContact, FamilyChannel, FamilyCall}

// LookupType finds a catalog type by name. Besides the canonical name it
// accepts any case ("message.DELIVERED"), a plural or gen 1 family
// ("templates.approved", "messages.delivered"), '-' for '_' ("opt-out"),
// and a bare event name ("delivered", "approved", "opt_out"), resolved in
// family order message, template, contact, channel, call (so "failed" is
// message.failed; say "call.failed" for the other).
func LookupType(name string) (TypeInfo, bool) {
	s := strings.ReplaceAll(canon(name), "-", "_")
	if s == "" {
		return TypeInfo{}, false
	}
	if i, ok := typeIndex[s]; ok {
		return Types[i], true
	}
	if fam, ev, ok := strings.Cut(s, "."); ok {
		if i, ok := typeIndex[familyOf(fam)+"."+ev]; ok {
			return Types[i], true
		}
		return TypeInfo{}, false
	}
	for _, fam := range lookupOrder {
		if i, ok := typeIndex[fam+"."+s]; ok {
			return Types[i], true
		}
	}
	return TypeInfo{}, false
}

// closeTypes returns up to three catalog names close to name, for "did you
// mean" messages.
func closeTypes(name string) []string {
	s := strings.ReplaceAll(canon(name), "-", "_")
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, t := range Types {
		_, ev, _ := strings.Cut(t.Name, ".")
		d := min(editDistance(s, t.Name), editDistance(s, ev))
		if s != "" && (strings.Contains(t.Name, s) || strings.Contains(s, ev)) {
			d = min(d, 1)
		}
		if d <= 3 {
			cs = append(cs, cand{t.Name, d})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return a.d - b.d })
	var out []string
	for i := 0; i < len(cs) && i < 3; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
