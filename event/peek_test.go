package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// readings are the four answers the receiver asks of every event.
type readings struct {
	Type    string
	Status  string
	Subject Subject
	Known   bool
}

func readingsOf(e *Envelope) readings {
	return readings{e.Type(), e.Status(), e.Subject(), e.Known()}
}

// referenceReadings works the readings out as Type, Status, Subject and
// Known did when each scanned the payload on its own: a fixed reference
// that the readings Parse makes in its pass must keep matching.
func referenceReadings(e *Envelope) readings {
	var messageStatus, status, messageID, templateID, contactID, callID, phoneNumber, from, inboundNumber []byte
	var hasTo, hasText, hasReceivedAt bool
	if m, ok := objectMembers(e.Payload); ok {
		for {
			key, vs, ve, ok := m.next()
			if !ok {
				break
			}
			raw := e.Payload[vs:ve]
			switch {
			case keyIs(key, "message_status"):
				messageStatus = raw
			case keyIs(key, "status"):
				status = raw
			case keyIs(key, "message_id"):
				messageID = raw
			case keyIs(key, "template_id"):
				templateID = raw
			case keyIs(key, "contact_id"):
				contactID = raw
			case keyIs(key, "call_id"):
				callID = raw
			case keyIs(key, "phone_number"):
				phoneNumber = raw
			case keyIs(key, "from"):
				from = raw
			case keyIs(key, "inbound_number"):
				inboundNumber = raw
			case keyIs(key, "to"):
				hasTo = true
			case keyIs(key, "text"):
				hasText = true
			case keyIs(key, "received_at"):
				hasReceivedAt = true
			}
		}
	}
	text := func(raw []byte) string { s, _ := unquote(raw); return s }

	var r readings
	fam, sfx := familyOf(canon(e.Field)), suffix(e.SubType)
	switch fam {
	case FamilyMessage:
		switch st := canon(text(messageStatus)); {
		case sfx != "":
			r.Type = "message." + sfx
		case st != "":
			r.Type = "message." + st
		case messageStatus == nil && (from != nil || hasTo || hasText || hasReceivedAt):
			r.Type = "message.received"
		default:
			r.Type = "message"
		}
	case FamilyTemplate:
		switch st := canon(text(status)); {
		case st != "":
			r.Type = "template." + st
		case sfx != "":
			r.Type = "template." + sfx
		default:
			r.Type = "template"
		}
	case "":
		r.Type = sfx
	default:
		r.Type = fam
		if sfx != "" {
			r.Type += "." + sfx
		}
	}
	_, r.Known = typeIndex[r.Type]

	if r.Status = normStatus(text(messageStatus)); r.Status == "" {
		r.Status = normStatus(text(status))
	}

	type cand struct {
		kind string
		raw  []byte
	}
	var cands []cand
	switch fam {
	case FamilyMessage:
		cands = []cand{{SubjectMessage, messageID}, {SubjectPhoneNumber, from}, {SubjectPhoneNumber, inboundNumber}}
	case FamilyTemplate:
		cands = []cand{{SubjectTemplate, templateID}}
	case FamilyContact:
		cands = []cand{{SubjectContact, contactID}, {SubjectPhoneNumber, phoneNumber}}
	case FamilyCall:
		cands = []cand{{SubjectCall, callID}}
	case FamilyChannel:
	default:
		cands = []cand{{SubjectMessage, messageID}, {SubjectTemplate, templateID}, {SubjectContact, contactID}, {SubjectCall, callID}}
	}
	for _, c := range cands {
		if id := text(c.raw); id != "" {
			r.Subject = Subject{c.kind, id}
			break
		}
	}
	return r
}

// checkReadings fails when the readings of a parsed envelope differ from
// the reference, or from those of the same fields in an Envelope built by
// hand.
func checkReadings(t *testing.T, env *Envelope) {
	t.Helper()
	got := readingsOf(env)
	if want := referenceReadings(env); got != want {
		t.Fatalf("readings of %s/%s/%.200s\n got %+v\nwant %+v", env.Field, env.SubType, env.Payload, got, want)
	}
	byHand := &Envelope{Field: env.Field, SubType: env.SubType, Payload: env.Payload}
	if again := readingsOf(byHand); again != got {
		t.Fatalf("readings of the same fields built by hand = %+v, Parse gave %+v", again, got)
	}
}

// The readings agree with the reference for every fixture Sent sent and
// every catalog sample, in each generation.
func TestReadingsMatchReference(t *testing.T) {
	t.Parallel()

	var bodies [][]byte
	for i := 1; i <= 10; i++ {
		bodies = append(bodies, fixture(t, fmt.Sprintf("f%d", i)))
	}
	for _, s := range parseSeeds {
		bodies = append(bodies, []byte(s))
	}
	gens := []func(*SampleOptions){
		func(*SampleOptions) {},
		func(o *SampleOptions) { o.Gen3 = true },
		func(o *SampleOptions) { o.Legacy = true },
	}
	for _, ti := range Types {
		for seed := byte(1); seed <= 3; seed++ {
			for _, gen := range gens {
				opts := seeded(seed)
				gen(&opts)
				body, err := Sample(ti.Name, opts)
				if err != nil {
					continue // no legacy form for this family
				}
				bodies = append(bodies, body)
			}
		}
	}
	for _, body := range bodies {
		env, err := Parse(body)
		if err != nil {
			continue
		}
		checkReadings(t, env)
	}
}

// Changing Field, SubType or Payload after Parse changes the readings, as
// it always did.
func TestReadingsFollowChangedFields(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		change func(*Envelope)
		want   readings
	}{
		{"field", func(e *Envelope) { e.Field = "contact" },
			readings{"contact.delivered", "DELIVERED", Subject{}, false}},
		{"sub_type", func(e *Envelope) { e.SubType = "" },
			readings{"message.delivered", "DELIVERED", Subject{SubjectMessage, "8ba7b830-9dad-11d1-80b4-00c04fd430c8"}, true}},
		{"sub_type other", func(e *Envelope) { e.SubType = "message.read" },
			readings{"message.read", "DELIVERED", Subject{SubjectMessage, "8ba7b830-9dad-11d1-80b4-00c04fd430c8"}, true}},
		{"payload", func(e *Envelope) {
			e.SubType = ""
			e.Payload = json.RawMessage(`{"message_id":"m2","message_status":"failed"}`)
		}, readings{"message.failed", "FAILED", Subject{SubjectMessage, "m2"}, true}},
		{"payload shortened", func(e *Envelope) {
			e.Payload = e.Payload[:strings.Index(string(e.Payload), `,"message_id"`)] // leaves {"account_id":"…"
		}, readings{"message.delivered", "", Subject{}, true}},
		{"payload removed", func(e *Envelope) { e.Payload = nil },
			readings{"message.delivered", "", Subject{}, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := mustParse(t, fixture(t, "f1"))
			_ = readingsOf(env)
			tt.change(env)
			if got := readingsOf(env); got != tt.want {
				t.Errorf("readings = %+v, want %+v", got, tt.want)
			}
			if got := referenceReadings(env); got != tt.want {
				t.Errorf("reference readings = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The methods answer from what Parse read: asking them costs nothing more.
// (Not parallel: AllocsPerRun counts the whole process.)
func TestReadingsCostNoAllocation(t *testing.T) {
	for _, name := range []string{"f1", "f5", "f6", "f8", "f10"} {
		env := mustParse(t, fixture(t, name))
		if n := testing.AllocsPerRun(10, func() { _ = readingsOf(env) }); n != 0 {
			t.Errorf("%s: Type, Status, Subject and Known allocate %v times after Parse", name, n)
		}
	}
}
