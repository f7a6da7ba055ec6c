package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMessage(t *testing.T) {
	t.Parallel()

	t.Run("gen 2", func(t *testing.T) {
		t.Parallel()
		m, err := mustParse(t, fixture(t, "f1")).Message()
		if err != nil {
			t.Fatal(err)
		}
		want := MessageStatus{
			AccountID:      "7ba7b820-9dad-11d1-80b4-00c04fd430c8",
			MessageID:      "8ba7b830-9dad-11d1-80b4-00c04fd430c8",
			MessageStatus:  "DELIVERED",
			Channel:        "sms",
			InboundNumber:  "+14155550123",
			OutboundNumber: "+14155550987",
			TemplateID:     "9ba7b840-9dad-11d1-80b4-00c04fd430c8",
		}
		if !reflect.DeepEqual(*m, want) {
			t.Errorf("Message() = %+v\nwant %+v", *m, want)
		}
	})

	t.Run("gen 3", func(t *testing.T) {
		t.Parallel()
		m, err := mustParse(t, fixture(t, "f9")).Message()
		if err != nil {
			t.Fatal(err)
		}
		if m.TemplateName != "order_confirmation" || m.AgentID != "agent_abc123" ||
			m.UpdatedAt != "2026-08-04T10:15:01Z" || m.InboundNumber != "" || m.Channel != "rcs" {
			t.Errorf("Message() = %+v", *m)
		}
		if m.Extra != nil {
			t.Errorf("Extra = %s, want nil", m.Extra)
		}
	})

	t.Run("gen 1", func(t *testing.T) {
		t.Parallel()
		m, err := mustParse(t, fixture(t, "f8")).Message()
		if err != nil {
			t.Fatal(err)
		}
		if m.MessageStatus != "DELIVERED" || m.MessageID != "8ba7b830-9dad-11d1-80b4-00c04fd430c8" {
			t.Errorf("Message() = %+v", *m)
		}
	})
}

func TestInbound(t *testing.T) {
	t.Parallel()

	t.Run("gen 2 from/to", func(t *testing.T) {
		t.Parallel()
		in, err := mustParse(t, fixture(t, "f5")).Inbound()
		if err != nil {
			t.Fatal(err)
		}
		want := InboundMessage{
			AccountID:  "7ba7b820-9dad-11d1-80b4-00c04fd430c8",
			From:       "+14155550123",
			To:         "+14155550987",
			Text:       "STOP",
			Channel:    "sms",
			Provider:   "<provider-name>",
			ReceivedAt: "2025-11-03T15:20:05Z",
		}
		if !reflect.DeepEqual(*in, want) {
			t.Errorf("Inbound() = %+v\nwant %+v", *in, want)
		}
	})

	t.Run("gen 3 inbound_number/outbound_number", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(`{"field":"message","event":"message.received","payload":{"account_id":"a1","channel":"whatsapp","inbound_number":"+14155550101","message_id":"m1","outbound_number":"+14155550199","received_at":"2026-08-04T10:15:01Z","text":null,"updated_at":"2026-08-04T10:15:01Z"}}`))
		in, err := env.Inbound()
		if err != nil {
			t.Fatal(err)
		}
		if in.From != "+14155550101" || in.To != "+14155550199" {
			t.Errorf("From, To = %q, %q; want the gen 3 numbers", in.From, in.To)
		}
		if in.InboundNumber != "+14155550101" || in.OutboundNumber != "+14155550199" {
			t.Errorf("originals not kept: %+v", *in)
		}
		if in.Text != "" || in.MessageID != "m1" || in.UpdatedAt == "" {
			t.Errorf("Inbound() = %+v", *in)
		}
		if got := env.Subject().String(); got != "message_id=m1" {
			t.Errorf("Subject = %q", got)
		}
	})
}

func TestTemplateContactChannelCall(t *testing.T) {
	t.Parallel()

	tmpl, err := mustParse(t, fixture(t, "f7")).Template()
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.Status != "REJECTED" || tmpl.Reason != "INVALID_FORMAT" || tmpl.Category != "MARKETING" ||
		tmpl.WhatsAppTemplateID != "2345678901234567" || tmpl.TemplateName != "spring_promo_2025" {
		t.Errorf("Template() = %+v", *tmpl)
	}
	tmpl, err = mustParse(t, fixture(t, "f6")).Template()
	if err != nil || tmpl.Reason != "" {
		t.Errorf("Template() = %+v, %v; want a null reason as \"\"", tmpl, err)
	}

	c, err := mustParse(t, fixture(t, "f10")).Contact()
	if err != nil {
		t.Fatal(err)
	}
	want := Contact{
		AccountID:   "7ba7b820-9dad-11d1-80b4-00c04fd430c8",
		ContactID:   "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b",
		PhoneNumber: "+14155550123",
		Channel:     "sms",
		OptOut:      true,
		Source:      "INBOUND_KEYWORD",
		MessageID:   "f0e1d2c3-b4a5-4697-8879-6a5b4c3d2e1f",
		Text:        "STOP",
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Contact() = %+v\nwant %+v", *c, want)
	}

	ch, err := mustParse(t, []byte(`{"field":"channel","event":"channel.submitted","payload":{"country":"XK","channel":"sms","number_type":"LOCAL","sender_value":null,"status":"ACTION_NEEDED","reason_code":"CHANNEL_001","compliance":{"brand":{"inherit":true}}}}`)).ChannelUpdate()
	if err != nil {
		t.Fatal(err)
	}
	if ch.Country != "XK" || ch.SenderValue != "" || ch.ReasonCode != "CHANNEL_001" || string(ch.Compliance) != `{"brand":{"inherit":true}}` {
		t.Errorf("ChannelUpdate() = %+v", *ch)
	}

	call, err := mustParse(t, []byte(`{"field":"call","event":"call.completed","payload":{"call_id":"c1","channel":"voice","duration_seconds":61,"price":0.028}}`)).Call()
	if err != nil {
		t.Fatal(err)
	}
	if call.CallID != "c1" || call.DurationSeconds != 61 || call.Price != "0.028" {
		t.Errorf("Call() = %+v", *call)
	}
}

func TestPayloadExtra(t *testing.T) {
	t.Parallel()

	body := `{"field":"message","sub_type":"message.delivered","payload":{"message_id":"m1","message_status":"DELIVERED","carrier":"T-Mobile","segments":2,"error":{"code":null}}}`
	m, err := mustParse(t, []byte(body)).Message()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]json.RawMessage{
		"carrier":  json.RawMessage(`"T-Mobile"`),
		"segments": json.RawMessage(`2`),
		"error":    json.RawMessage(`{"code":null}`),
	}
	if !reflect.DeepEqual(m.Extra, want) {
		t.Errorf("Extra = %s, want %s", m.Extra, want)
	}

	// Marshal writes the extra keys back: typed ones first, then the
	// others sorted.
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"message_id":"m1","message_status":"DELIVERED","carrier":"T-Mobile","error":{"code":null},"segments":2}`
	if string(out) != wantJSON {
		t.Errorf("Marshal = %s\nwant %s", out, wantJSON)
	}

	// And decoding that again gives the same value.
	var again MessageStatus
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, *m) {
		t.Errorf("round trip = %+v, want %+v", again, *m)
	}
}

func TestPayloadErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		body string
		call func(*Envelope) error
		want error
	}{
		{"Message on a template", `{"field":"templates","payload":{}}`, func(e *Envelope) error { _, err := e.Message(); return err }, ErrWrongType},
		{"Message on message.received", `{"field":"message","sub_type":"message.received","payload":{}}`, func(e *Envelope) error { _, err := e.Message(); return err }, ErrWrongType},
		{"Inbound on message.delivered", `{"field":"message","sub_type":"message.delivered","payload":{}}`, func(e *Envelope) error { _, err := e.Inbound(); return err }, ErrWrongType},
		{"Template on a contact", `{"field":"contact","payload":{}}`, func(e *Envelope) error { _, err := e.Template(); return err }, ErrWrongType},
		{"Contact on a call", `{"field":"call","payload":{}}`, func(e *Envelope) error { _, err := e.Contact(); return err }, ErrWrongType},
		{"Call on a channel", `{"field":"channel","payload":{}}`, func(e *Envelope) error { _, err := e.Call(); return err }, ErrWrongType},
		{"ChannelUpdate on a message", `{"field":"message","payload":{}}`, func(e *Envelope) error { _, err := e.ChannelUpdate(); return err }, ErrWrongType},
		{"no payload", `{"field":"message","sub_type":"message.sent"}`, func(e *Envelope) error { _, err := e.Message(); return err }, ErrBadPayload},
		{"wrong member type", `{"field":"message","sub_type":"message.sent","payload":{"message_id":42}}`, func(e *Envelope) error { _, err := e.Message(); return err }, ErrBadPayload},
		{"opt_out a string", `{"field":"contact","payload":{"opt_out":"yes"}}`, func(e *Envelope) error { _, err := e.Contact(); return err }, ErrBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(mustParse(t, []byte(tt.body)))
			if !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestPayloadKeysDocumented guards the key lists the Extra logic uses.
func TestPayloadKeysDocumented(t *testing.T) {
	t.Parallel()

	for name, keys := range map[string]map[string]bool{
		"MessageStatus": messageStatusKeys, "InboundMessage": inboundKeys, "Template": templateKeys,
		"Contact": contactKeys, "ChannelUpdate": channelKeys, "Call": callKeys,
	} {
		if len(keys) < 5 {
			t.Errorf("%s: only %d keys", name, len(keys))
		}
		for k := range keys {
			if k != strings.ToLower(k) || strings.Contains(k, " ") {
				t.Errorf("%s: key %q is not snake_case", name, k)
			}
		}
	}
}
