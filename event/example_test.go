package event_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hooklatch/hooklatch/event"
)

func ExampleParse() {
	body := []byte(`{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"account_id":"7ba7b820-9dad-11d1-80b4-00c04fd430c8","message_id":"8ba7b830-9dad-11d1-80b4-00c04fd430c8","message_status":"DELIVERED","channel":"sms","inbound_number":"+14155550123","outbound_number":"+14155550987","template_id":"9ba7b840-9dad-11d1-80b4-00c04fd430c8"}}`)

	env, err := event.Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.Family(), env.Type(), env.Status(), env.Known())
	fmt.Println(env.Subject())
	fmt.Println(env.Timestamp)

	m, _ := env.Message()
	fmt.Println(m.Channel, m.MessageID)
	// Output:
	// message message.delivered DELIVERED true
	// message_id=8ba7b830-9dad-11d1-80b4-00c04fd430c8
	// 2025-10-31 10:10:42 +0000 UTC
	// sms 8ba7b830-9dad-11d1-80b4-00c04fd430c8
}

// Every generation of the envelope reads the same way.
func ExampleEnvelope_Type() {
	bodies := []string{
		// gen 1: field "messages", an id, no sub-type.
		`{"id":"evt_legacy_0001","field":"messages","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"DELIVERED"}}`,
		// gen 3: "event" instead of "sub_type".
		`{"field":"message","event":"message.delivered","timestamp":"2026-08-04T10:15:02Z","payload":{"message_id":"m1","message_status":"DELIVERED"}}`,
		// gen 1 template, lower-case status, no sub-type.
		`{"field":"templates","payload":{"template_id":"t1","status":"approved"}}`,
		// gen 2 inbound message, no status at all.
		`{"field":"message","sub_type":"message.received","payload":{"from":"+14155550123","to":"+14155550987","text":"STOP"}}`,
		// the plugin's spelling: "value" instead of "payload".
		`{"field":"contact","event":"contact.opt_out","value":{"contact_id":"c1","opt_out":true}}`,
	}
	for _, b := range bodies {
		env, err := event.Parse([]byte(b))
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-18s %-10q %s\n", env.Type(), env.Status(), env.Subject())
	}
	// Output:
	// message.delivered  "DELIVERED" message_id=m1
	// message.delivered  "DELIVERED" message_id=m1
	// template.approved  "APPROVED" template_id=t1
	// message.received   ""         phone_number=+14155550123
	// contact.opt_out    ""         contact_id=c1
}

// Each failure wraps one sentinel, with the detail in the message.
func ExampleParse_badInput() {
	for _, b := range []string{`not json`, `[1,2]`, `{"payload":{}}`, `{"field":"message","payload":"x"}`} {
		_, err := event.Parse([]byte(b))
		switch {
		case errors.Is(err, event.ErrNotJSON):
			fmt.Println("not JSON")
		case errors.Is(err, event.ErrNotObject):
			fmt.Println("not an object:", err)
		case errors.Is(err, event.ErrMissingField):
			fmt.Println("no field:", err)
		case errors.Is(err, event.ErrBadPayload):
			fmt.Println("bad payload:", err)
		}
	}
	// Output:
	// not JSON
	// not an object: event: not a JSON object: the body is an array
	// no field: event: envelope has no field: no "field" member
	// bad payload: event: bad payload: "payload" is a string, want an object
}

func ExampleDedupeKey() {
	legacy := []byte(`{"id":"evt_legacy_0001","field":"messages","payload":{}}`)
	env, _ := event.Parse(legacy)

	// The event id header wins.
	h := http.Header{}
	h.Set("X-Webhook-Event-Id", "evt_01J9Z3")
	h.Set("X-Webhook-Id", "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8") // the endpoint: never used
	fmt.Println(event.DedupeKey(h, legacy, env))

	// Then the gen 1 envelope id.
	fmt.Println(event.DedupeKey(http.Header{}, legacy, env))

	// Then the body's hash, which a retry does not change.
	body := []byte(`{"field":"message","sub_type":"message.sent","payload":{}}`)
	fmt.Println(event.DedupeKey(nil, body, nil))
	// Output:
	// event-id:evt_01J9Z3
	// id:evt_legacy_0001
	// sha256:377ef5c3bae9ac2504cbabe73ecc5101e7ccad949ee663494c3eddfb39d0453e
}

func ExampleSample() {
	opts := event.SampleOptions{
		NowFunc: func() time.Time { return time.Date(2026, 8, 4, 10, 15, 2, 0, time.UTC) },
		Rand:    rand.NewChaCha8([32]byte{42}), // the same sample every run
	}
	body, err := event.Sample("message.delivered", opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(body))

	// Turn it into a failure, as "hooklatch trigger --set" does: only the
	// value changes, the key order stays.
	body, _ = event.Set(body, "sub_type", "message.failed")
	body, _ = event.Set(body, "payload.message_status", "FAILED")
	fmt.Println(string(body))

	env, _ := event.Parse(body)
	fmt.Println(env.Type(), env.Status())
	// Output:
	// {"field":"message","sub_type":"message.delivered","timestamp":"2026-08-04T10:15:02Z","payload":{"account_id":"f007b056-1496-4f34-83d0-062673f55944","message_id":"95798d34-0c0a-47e8-b9c9-3b9d209d2fc7","message_status":"DELIVERED","channel":"whatsapp","inbound_number":"+14155550109","outbound_number":"+14155550195","template_id":"f690fc64-9a57-4c0a-9307-04faa35217ac"}}
	// {"field":"message","sub_type":"message.failed","timestamp":"2026-08-04T10:15:02Z","payload":{"account_id":"f007b056-1496-4f34-83d0-062673f55944","message_id":"95798d34-0c0a-47e8-b9c9-3b9d209d2fc7","message_status":"FAILED","channel":"whatsapp","inbound_number":"+14155550109","outbound_number":"+14155550195","template_id":"f690fc64-9a57-4c0a-9307-04faa35217ac"}}
	// message.failed FAILED
}

func ExampleSet() {
	body := []byte(`{"field":"message","payload":{"message_status":"SENT"}}`)
	body, _ = event.Set(body, "payload.message_status", "READ")     // a string
	body, _ = event.Set(body, "payload.meta.segments", "2")         // a number, in new objects
	body, _ = event.Set(body, "payload.meta.carrier", `"T-Mobile"`) // a quoted string
	fmt.Println(string(body))

	_, err := event.Set(body, "payload.message_status.code", "1")
	fmt.Println(err)
	// Output:
	// {"field":"message","payload":{"message_status":"READ","meta":{"segments":2,"carrier":"T-Mobile"}}}
	// event: not a JSON object: set payload.message_status.code: payload.message_status is a string
}

func ExampleSupersedes() {
	current := ""
	// Out of order and re-fired, as Sent may deliver them.
	for _, next := range []string{"SENT", "QUEUED", "DELIVERED", "ROUTED", "FAILED", "READ"} {
		if event.Supersedes(next, current) {
			current = next
		}
		fmt.Printf("%-9s → %s\n", next, current)
	}
	// Output:
	// SENT      → SENT
	// QUEUED    → SENT
	// DELIVERED → DELIVERED
	// ROUTED    → DELIVERED
	// FAILED    → FAILED
	// READ      → FAILED
}

func ExampleLookupType() {
	for _, name := range []string{"templates.approved", "message.DELIVERED", "opt-out", "failed", "call.failed"} {
		info, ok := event.LookupType(name)
		fmt.Println(name, "→", info.Name, ok)
	}
	// Output:
	// templates.approved → template.approved true
	// message.DELIVERED → message.delivered true
	// opt-out → contact.opt_out true
	// failed → message.failed true
	// call.failed → call.failed true
}
