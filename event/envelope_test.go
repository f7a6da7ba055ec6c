package event

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixture reads one of the shared Sent fixture bodies (f1 … f10).
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "sent", name+".json"))
	if err != nil {
		tb.Fatalf("reading fixture: %v", err)
	}
	return b
}

// mustParse parses body or fails the test.
func mustParse(tb testing.TB, body []byte) *Envelope {
	tb.Helper()
	env, err := Parse(body)
	if err != nil {
		tb.Fatalf("Parse(%.80s…): %v", body, err)
	}
	return env
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestParseFixtures(t *testing.T) {
	t.Parallel()

	tests := []struct {
		fixture   string
		field     string
		id        string
		subType   string
		family    string
		typ       string
		status    string
		subject   string
		timestamp string
	}{
		{"f1", "message", "", "message.delivered", "message", "message.delivered", "DELIVERED", "message_id=8ba7b830-9dad-11d1-80b4-00c04fd430c8", "2025-10-31T10:10:42Z"},
		{"f2", "message", "", "message.sent", "message", "message.sent", "SENT", "message_id=3f2b8c1e-6a4d-4f0e-9b7a-2c5d8e1f4a60", "2025-11-03T14:02:11Z"},
		{"f3", "message", "", "message.read", "message", "message.read", "READ", "message_id=3f2b8c1e-6a4d-4f0e-9b7a-2c5d8e1f4a60", "2025-11-03T14:05:48Z"},
		{"f4", "message", "", "message.failed", "message", "message.failed", "FAILED", "message_id=c0a80164-1d2e-4b7c-8f90-5e6a7b8c9d01", "2025-11-03T14:02:15Z"},
		{"f5", "message", "", "message.received", "message", "message.received", "", "phone_number=+14155550123", "2025-11-03T15:20:07Z"},
		{"f6", "templates", "", "", "template", "template.approved", "APPROVED", "template_id=9ba7b840-9dad-11d1-80b4-00c04fd430c8", "2025-11-04T09:00:03Z"},
		{"f7", "templates", "", "", "template", "template.rejected", "REJECTED", "template_id=aba7b850-9dad-11d1-80b4-00c04fd430c8", "2025-11-04T09:14:41Z"},
		{"f8", "messages", "evt_legacy_0001", "", "message", "message.delivered", "DELIVERED", "message_id=8ba7b830-9dad-11d1-80b4-00c04fd430c8", "2025-10-31T10:10:42Z"},
		{"f9", "message", "", "message.delivered", "message", "message.delivered", "DELIVERED", "message_id=5d9e2f10-7b3c-4a8e-b1d2-9f0a1b2c3d4e", "2026-08-04T10:15:02Z"},
		{"f10", "contact", "", "contact.opt_out", "contact", "contact.opt_out", "", "contact_id=e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b", "2026-08-04T11:00:09Z"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			t.Parallel()
			env := mustParse(t, fixture(t, tt.fixture))
			check := func(what, got, want string) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("Field", env.Field, tt.field)
			check("ID", env.ID, tt.id)
			check("SubType", env.SubType, tt.subType)
			check("Family", env.Family(), tt.family)
			check("Type", env.Type(), tt.typ)
			check("Status", env.Status(), tt.status)
			check("Subject", env.Subject().String(), tt.subject)
			check("TimestampRaw", env.TimestampRaw, tt.timestamp)
			if want := mustTime(t, tt.timestamp); !env.Timestamp.Equal(want) {
				t.Errorf("Timestamp = %v, want %v", env.Timestamp, want)
			}
			if !env.Known() {
				t.Errorf("Known() = false for %s", env.Type())
			}
			if env.Payload == nil || !json.Valid(env.Payload) {
				t.Errorf("Payload = %q, want a valid object", env.Payload)
			}
			if env.Extra != nil {
				t.Errorf("Extra = %v, want nil", env.Extra)
			}
		})
	}
}

func TestParseVariants(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		body    string
		typ     string
		status  string
		subject string
		check   func(t *testing.T, env *Envelope)
	}{
		{
			name:    "value instead of payload",
			body:    `{"field":"message","sub_type":"message.sent","timestamp":"2025-11-03T14:02:11Z","value":{"message_id":"m1","message_status":"SENT","channel":"whatsapp"}}`,
			typ:     "message.sent",
			status:  "SENT",
			subject: "message_id=m1",
			check: func(t *testing.T, env *Envelope) {
				if string(env.Payload) != `{"message_id":"m1","message_status":"SENT","channel":"whatsapp"}` {
					t.Errorf("Payload = %s", env.Payload)
				}
			},
		},
		{
			name:    "payload wins over value, value kept in Extra",
			body:    `{"field":"message","sub_type":"message.sent","payload":{"message_id":"m1"},"value":{"message_id":"m2"}}`,
			typ:     "message.sent",
			subject: "message_id=m1",
			check: func(t *testing.T, env *Envelope) {
				if string(env.Extra["value"]) != `{"message_id":"m2"}` {
					t.Errorf(`Extra["value"] = %s`, env.Extra["value"])
				}
			},
		},
		{
			name:    "null payload falls back to value",
			body:    `{"field":"message","payload":null,"value":{"message_id":"m2","message_status":"QUEUED"}}`,
			typ:     "message.queued",
			status:  "QUEUED",
			subject: "message_id=m2",
		},
		{
			name: "no payload",
			body: `{"field":"message","sub_type":"message.delivered"}`,
			typ:  "message.delivered",
			check: func(t *testing.T, env *Envelope) {
				if env.Payload != nil {
					t.Errorf("Payload = %s, want nil", env.Payload)
				}
				if !env.Timestamp.IsZero() || env.TimestampRaw != "" {
					t.Errorf("Timestamp = %v %q, want zero", env.Timestamp, env.TimestampRaw)
				}
			},
		},
		{
			name:    "legacy template with lower-case status",
			body:    `{"id":"evt_legacy_0002","field":"templates","timestamp":"2025-10-31T12:18:14Z","payload":{"status":"approved","channel":"whatsapp","category":"UTILITY","language":"en","account_id":"a1","template_id":"t1","template_name":"order_confirmation","whatsapp_template_id":"1234567890123456"}}`,
			typ:     "template.approved",
			status:  "APPROVED",
			subject: "template_id=t1",
			check: func(t *testing.T, env *Envelope) {
				if env.ID != "evt_legacy_0002" {
					t.Errorf("ID = %q", env.ID)
				}
			},
		},
		{
			name:    "template with sub_type templates.approved and no status",
			body:    `{"field":"templates","sub_type":"templates.approved","timestamp":"2025-11-04T09:00:03Z","payload":{"template_id":"t1"}}`,
			typ:     "template.approved",
			subject: "template_id=t1",
		},
		{
			name:    "template with event templates.approved and a status",
			body:    `{"field":"templates","event":"templates.approved","payload":{"template_id":"t1","status":"APPROVED"}}`,
			typ:     "template.approved",
			status:  "APPROVED",
			subject: "template_id=t1",
		},
		{
			name: "template without status or sub-type",
			body: `{"field":"templates","payload":{}}`,
			typ:  "template",
		},
		{
			name:   "gen 1 status without sub_type, lower case",
			body:   `{"field":"messages","payload":{"message_status":"delivered"}}`,
			typ:    "message.delivered",
			status: "DELIVERED",
		},
		{
			name:    "RECEIVED status",
			body:    `{"field":"messages","payload":{"message_status":"RECEIVED","from":"+14155550101"}}`,
			typ:     "message.received",
			status:  "RECEIVED",
			subject: "phone_number=+14155550101",
		},
		{
			name:    "gen 3 inbound without sub-type",
			body:    `{"field":"message","payload":{"message_id":"m9","inbound_number":"+14155550101","outbound_number":"+14155550199","text":null,"received_at":"2026-08-04T10:15:01Z"}}`,
			typ:     "message.received",
			subject: "message_id=m9",
		},
		{
			name: "message without status or inbound keys",
			body: `{"field":"message","payload":{"message_id":""}}`,
			typ:  "message",
		},
		{
			name: "bare sub-type",
			body: `{"field":"message","sub_type":"delivered"}`,
			typ:  "message.delivered",
		},
		{
			name: "upper-case sub-type and field",
			body: `{"field":"MESSAGE","sub_type":"MESSAGE.DELIVERED"}`,
			typ:  "message.delivered",
		},
		{
			name: "field decides the family",
			body: `{"field":"messages","sub_type":"whatever.delivered"}`,
			typ:  "message.delivered",
		},
		{
			name: "sub-type made canonical",
			body: `{"field":"message","sub_type":"message.Deli vered!"}`,
			typ:  "message.deli_vered_",
		},
		{
			name: "sub_type shadows event, event kept",
			body: `{"field":"message","sub_type":"message.sent","event":"message.delivered"}`,
			typ:  "message.sent",
			check: func(t *testing.T, env *Envelope) {
				if string(env.Extra["event"]) != `"message.delivered"` {
					t.Errorf(`Extra["event"] = %s`, env.Extra["event"])
				}
			},
		},
		{
			name: "empty sub_type falls back to event",
			body: `{"field":"message","sub_type":"","event":"message.read"}`,
			typ:  "message.read",
		},
		{
			name: "non-string sub_type kept in Extra",
			body: `{"field":"message","sub_type":7,"event":"message.read"}`,
			typ:  "message.read",
			check: func(t *testing.T, env *Envelope) {
				if string(env.Extra["sub_type"]) != `7` {
					t.Errorf(`Extra["sub_type"] = %s`, env.Extra["sub_type"])
				}
			},
		},
		{
			name: "unknown top-level fields preserved",
			body: `{"field":"message","sub_type":"message.sent","webhook_version":"3","meta":{"region":"us-east-1","tries":[1,2]},"payload":{}}`,
			typ:  "message.sent",
			check: func(t *testing.T, env *Envelope) {
				if len(env.Extra) != 2 || string(env.Extra["webhook_version"]) != `"3"` ||
					string(env.Extra["meta"]) != `{"region":"us-east-1","tries":[1,2]}` {
					t.Errorf("Extra = %s", env.Extra)
				}
			},
		},
		{
			name: "request_id",
			body: `{"field":"contact","event":"contact.opt_in","request_id":"req_1","payload":{"phone_number":"+14155550101"}}`,
			typ:  "contact.opt_in", subject: "phone_number=+14155550101",
			check: func(t *testing.T, env *Envelope) {
				if env.RequestID != "req_1" {
					t.Errorf("RequestID = %q", env.RequestID)
				}
			},
		},
		{
			name: "numeric id kept as its literal",
			body: `{"id":12345,"field":"messages"}`,
			typ:  "message",
			check: func(t *testing.T, env *Envelope) {
				if env.ID != "12345" {
					t.Errorf("ID = %q", env.ID)
				}
			},
		},
		{
			name: "escaped keys, duplicate keys: last wins",
			body: `{"fi\u0065ld":"contact","field":"call","event":"call.answered","payload":{"call_id":"c1"}}`,
			typ:  "call.answered", subject: "call_id=c1",
		},
		{
			name:   "channel event has a status and no subject",
			body:   `{"field":"channel","event":"channel.activated","payload":{"country":"US","status":"active"}}`,
			typ:    "channel.activated",
			status: "ACTIVE",
		},
		{
			name: "contact without a sub-type",
			body: `{"field":"contact","payload":{"contact_id":"k1"}}`,
			typ:  "contact", subject: "contact_id=k1",
		},
		{
			name: "unknown family with a sub-type",
			body: `{"field":"Billing","event":"billing.invoice_paid","payload":{"message_id":"m1"}}`,
			typ:  "billing.invoice_paid", subject: "message_id=m1",
			check: func(t *testing.T, env *Envelope) {
				if env.Known() {
					t.Error("Known() = true for an unknown family")
				}
				if env.Family() != "billing" {
					t.Errorf("Family = %q", env.Family())
				}
			},
		},
		{
			name: "unknown family without a sub-type",
			body: `{"field":"billing","payload":{}}`,
			typ:  "billing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := mustParse(t, []byte(tt.body))
			if got := env.Type(); got != tt.typ {
				t.Errorf("Type = %q, want %q", got, tt.typ)
			}
			if got := env.Status(); got != tt.status {
				t.Errorf("Status = %q, want %q", got, tt.status)
			}
			if got := env.Subject().String(); got != tt.subject {
				t.Errorf("Subject = %q, want %q", got, tt.subject)
			}
			if tt.check != nil {
				tt.check(t, env)
			}
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	t.Parallel()

	tests := []struct {
		raw  string // JSON value of "timestamp"
		want string // RFC 3339, "" for zero
		kept string // TimestampRaw
	}{
		{`"2025-10-31T10:10:42Z"`, "2025-10-31T10:10:42Z", "2025-10-31T10:10:42Z"},
		{`"2026-01-15T10:35:00+00:00"`, "2026-01-15T10:35:00Z", "2026-01-15T10:35:00+00:00"},
		{`"2026-03-11T21:50:49.6841671+00:00"`, "2026-03-11T21:50:49.6841671Z", "2026-03-11T21:50:49.6841671+00:00"},
		{`"2026-03-11T21:50:49.684Z"`, "2026-03-11T21:50:49.684Z", "2026-03-11T21:50:49.684Z"},
		{`"2026-03-11T23:50:49+02:00"`, "2026-03-11T21:50:49Z", "2026-03-11T23:50:49+02:00"},
		{`"2026-03-11T21:50:49+0000"`, "2026-03-11T21:50:49Z", "2026-03-11T21:50:49+0000"},
		{`"2026-03-11 21:50:49Z"`, "2026-03-11T21:50:49Z", "2026-03-11 21:50:49Z"},
		{`"2026-03-11T21:50:49"`, "2026-03-11T21:50:49Z", "2026-03-11T21:50:49"},
		{`1705334531`, "2024-01-15T16:02:11Z", "1705334531"},
		{`"yesterday"`, "", "yesterday"},
		{`"2026-13-45T99:00:00Z"`, "", "2026-13-45T99:00:00Z"},
		{`""`, "", ""},
		{`-5`, "", "-5"},
		{`1e300`, "", "1e300"},
		{`null`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			t.Parallel()
			env := mustParse(t, []byte(`{"field":"message","timestamp":`+tt.raw+`}`))
			if env.TimestampRaw != tt.kept {
				t.Errorf("TimestampRaw = %q, want %q", env.TimestampRaw, tt.kept)
			}
			if tt.want == "" {
				if !env.Timestamp.IsZero() {
					t.Errorf("Timestamp = %v, want zero", env.Timestamp)
				}
				return
			}
			if want := mustTime(t, tt.want); !env.Timestamp.Equal(want) || env.Timestamp.Location() != time.UTC {
				t.Errorf("Timestamp = %v, want %v in UTC", env.Timestamp, want)
			}
		})
	}

	t.Run("non-string timestamp kept in Extra", func(t *testing.T) {
		t.Parallel()
		env := mustParse(t, []byte(`{"field":"message","timestamp":{"unix":1}}`))
		if string(env.Extra["timestamp"]) != `{"unix":1}` || !env.Timestamp.IsZero() {
			t.Errorf("Extra = %s, Timestamp = %v", env.Extra, env.Timestamp)
		}
	})
}

func TestParseBadInput(t *testing.T) {
	t.Parallel()

	deep := func(open, close string, n int) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty", ``, ErrNotJSON},
		{"spaces", " \n\t ", ErrNotJSON},
		{"not JSON", `field=message`, ErrNotJSON},
		{"truncated", `{"field":"message","payload":{`, ErrNotJSON},
		{"trailing garbage", `{"field":"message"} x`, ErrNotJSON},
		{"two objects", `{"field":"message"}{"field":"message"}`, ErrNotJSON},
		{"single quotes", `{'field':'message'}`, ErrNotJSON},
		{"array", `[{"field":"message"}]`, ErrNotObject},
		{"string", `"message"`, ErrNotObject},
		{"number", `42`, ErrNotObject},
		{"null", `null`, ErrNotObject},
		{"missing field", `{"sub_type":"message.delivered","payload":{}}`, ErrMissingField},
		{"empty object", `{}`, ErrMissingField},
		{"empty field", `{"field":""}`, ErrMissingField},
		{"blank field", `{"field":"  "}`, ErrMissingField},
		{"numeric field", `{"field":3}`, ErrMissingField},
		{"null field", `{"field":null}`, ErrMissingField},
		{"object field", `{"field":{"name":"message"}}`, ErrMissingField},
		{"payload a string", `{"field":"message","payload":"{\"message_id\":\"m1\"}"}`, ErrBadPayload},
		{"payload an array", `{"field":"message","payload":[]}`, ErrBadPayload},
		{"payload a number", `{"field":"message","payload":1}`, ErrBadPayload},
		{"value a string", `{"field":"message","value":"x"}`, ErrBadPayload},
		{"deep arrays", deep("[", "]", 100_000), ErrNotJSON},
		{"deep objects", deep(`{"a":`, "}", 100_000), ErrNotJSON},
		{"deep payload", `{"field":"message","payload":` + deep(`{"a":`, "}", 100_000) + `}`, ErrNotJSON},
		{"deep and unterminated", strings.Repeat("[", 100_000), ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, err := Parse([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if env != nil {
				t.Errorf("Parse returned an envelope with an error: %+v", env)
			}
			if !strings.HasPrefix(err.Error(), "event: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestParseCopiesBody(t *testing.T) {
	t.Parallel()

	body := fixture(t, "f1")
	env := mustParse(t, body)
	before := string(env.Payload)
	for i := range body {
		body[i] = 'x'
	}
	if string(env.Payload) != before {
		t.Fatalf("Payload changed with the caller's slice: %s", env.Payload)
	}
	// Appending to Payload must not overwrite what follows it.
	_ = append(env.Payload, "garbage"...)
	if env.Type() != "message.delivered" {
		t.Fatalf("Type = %q after append", env.Type())
	}
}

func TestParseInvalidUTF8(t *testing.T) {
	t.Parallel()

	env := mustParse(t, []byte("{\"field\":\"mess\xffages\",\"payload\":{\"message_status\":\"DELI\xffVERED\"}}"))
	if got := env.Type(); got != "mess___ages" {
		t.Errorf("Type = %q, want %q", got, "mess___ages")
	}
	if got := env.Status(); got != "DELI\uFFFDVERED" {
		t.Errorf("Status = %q", got)
	}
	for _, c := range []byte(env.Type()) {
		if !nameByte(c) {
			t.Fatalf("Type %q has a byte outside [a-z0-9_.-]", env.Type())
		}
	}
}

func TestTypeBounded(t *testing.T) {
	t.Parallel()

	long := strings.Repeat("X", 10_000)
	env := mustParse(t, []byte(`{"field":"`+long+`","event":"`+long+`"}`))
	if got := len(env.Type()); got > 2*maxNamePart+1 {
		t.Fatalf("len(Type) = %d, want ≤ %d", got, 2*maxNamePart+1)
	}
	if env.Field != long {
		t.Fatal("Field not kept as sent")
	}
}

func BenchmarkParse(b *testing.B) {
	body := fixture(b, "f1")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAndClassify is Parse plus what the receiver asks of every
// event: Type, Status, Subject and Known.
func BenchmarkParseAndClassify(b *testing.B) {
	body := fixture(b, "f1")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		env, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		_, _, _, _ = env.Type(), env.Status(), env.Subject(), env.Known()
	}
}
