package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// lookup returns the raw value at a dotted path in body (last occurrence of
// a duplicated key, as decoders do).
func lookup(body []byte, path string) ([]byte, bool) {
	segs, err := splitPath(path)
	if err != nil {
		return nil, false
	}
	cur := body
	for _, seg := range segs {
		m, ok := objectMembers(cur)
		if !ok {
			return nil, false
		}
		var val []byte
		for {
			key, vs, ve, ok := m.next()
			if !ok {
				break
			}
			if keyIs(key, seg) {
				val = cur[vs:ve]
			}
		}
		if val == nil {
			return nil, false
		}
		cur = val
	}
	return cur, true
}

func TestSet(t *testing.T) {
	t.Parallel()

	const f1 = `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"DELIVERED","channel":"sms"}}`
	tests := []struct {
		name  string
		body  string
		path  string
		value string
		want  string
	}{
		{
			name: "replace a string, order kept", body: f1, path: "payload.message_status", value: "FAILED",
			want: `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"FAILED","channel":"sms"}}`,
		},
		{
			name: "replace a top-level key", body: f1, path: "sub_type", value: "message.failed",
			want: `{"field":"message","sub_type":"message.failed","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"DELIVERED","channel":"sms"}}`,
		},
		{
			name: "new key goes last", body: f1, path: "payload.template_name", value: "order_confirmation",
			want: `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"m1","message_status":"DELIVERED","channel":"sms","template_name":"order_confirmation"}}`,
		},
		{
			name: "missing objects created", body: `{"field":"message"}`, path: "payload.meta.carrier.name", value: "T-Mobile",
			want: `{"field":"message","payload":{"meta":{"carrier":{"name":"T-Mobile"}}}}`,
		},
		{
			name: "into an empty object", body: `{"field":"message","payload":{}}`, path: "payload.a", value: "1",
			want: `{"field":"message","payload":{"a":1}}`,
		},
		{
			name: "into an empty body object", body: ` { } `, path: "field", value: "message",
			want: ` {"field":"message" } `,
		},
		{
			name: "layout kept", body: "{\n  \"field\": \"message\",\n  \"payload\": {\n    \"message_status\": \"SENT\"\n  }\n}\n",
			path: "payload.message_status", value: "READ",
			want: "{\n  \"field\": \"message\",\n  \"payload\": {\n    \"message_status\": \"READ\"\n  }\n}\n",
		},
		{
			name: "layout kept on insert", body: "{\n  \"field\": \"message\"\n}", path: "sub_type", value: "message.read",
			want: "{\n  \"field\": \"message\",\"sub_type\":\"message.read\"\n}",
		},
		{name: "number", body: `{"a":"x"}`, path: "a", value: "42", want: `{"a":42}`},
		{name: "negative float", body: `{"a":"x"}`, path: "a", value: "-1.5e3", want: `{"a":-1.5e3}`},
		{name: "true", body: `{"a":"x"}`, path: "a", value: "true", want: `{"a":true}`},
		{name: "null", body: `{"a":"x"}`, path: "a", value: "null", want: `{"a":null}`},
		{name: "quoted string", body: `{"a":1}`, path: "a", value: `"42"`, want: `{"a":"42"}`},
		{name: "object compacted", body: `{"a":1}`, path: "a", value: `{ "b" : [1, 2] }`, want: `{"a":{"b":[1,2]}}`},
		{name: "array", body: `{"a":1}`, path: "a", value: `[]`, want: `{"a":[]}`},
		{name: "bare word is a string", body: `{"a":1}`, path: "a", value: `FAILED`, want: `{"a":"FAILED"}`},
		{name: "empty string", body: `{"a":1}`, path: "a", value: ``, want: `{"a":""}`},
		{name: "almost JSON is a string", body: `{"a":1}`, path: "a", value: `{"b":`, want: `{"a":"{\"b\":"}`},
		{name: "special characters escaped", body: `{"a":1}`, path: "a", value: "x\"y\\z\n<&>", want: `{"a":"x\"y\\z\n<&>"}`},
		{name: "key escaped", body: `{}`, path: `we"ird`, value: "1", want: `{"we\"ird":1}`},
		{name: "escaped key matched", body: `{"fi\u0065ld":"x"}`, path: "field", value: "message", want: `{"fi\u0065ld":"message"}`},
		{name: "duplicate key: last set", body: `{"a":1,"a":2}`, path: "a", value: "3", want: `{"a":1,"a":3}`},
		{name: "value with brackets in strings", body: `{"a":{"s":"}{]["},"b":1}`, path: "b", value: "2", want: `{"a":{"s":"}{]["},"b":2}`},
		{name: "replace an object wholesale", body: `{"payload":{"x":1}}`, path: "payload", value: `{"y":2}`, want: `{"payload":{"y":2}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Set([]byte(tt.body), tt.path, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Set =\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid(got) {
				t.Errorf("result is not valid JSON")
			}
		})
	}
}

func TestSetFixturesKeepOrder(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"f1", "f2", "f8", "f9"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := fixture(t, name)
			got, err := Set(body, "payload.message_status", "FAILED")
			if err != nil {
				t.Fatal(err)
			}
			// Only the value changed: the rest is byte for byte the same.
			want := bytes.Replace(body, []byte(`"DELIVERED"`), []byte(`"FAILED"`), 1)
			want = bytes.Replace(want, []byte(`"SENT"`), []byte(`"FAILED"`), 1)
			if !bytes.Equal(got, want) {
				t.Errorf("Set =\n%s\nwant\n%s", got, want)
			}
			if env := mustParse(t, got); env.Status() != "FAILED" {
				t.Errorf("Status = %q", env.Status())
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		body  string
		path  string
		value string
		want  error // nil: any error
	}{
		{"through a string", `{"payload":"x"}`, "payload.a", "1", ErrNotObject},
		{"through null", `{"payload":null}`, "payload.a", "1", ErrNotObject},
		{"through an array", `{"payload":[{"a":1}]}`, "payload.a", "1", ErrNotObject},
		{"through a number, deeper", `{"a":{"b":3}}`, "a.b.c.d", "1", ErrNotObject},
		{"body not JSON", `{"a":`, "a", "1", ErrNotJSON},
		{"empty body", ``, "a", "1", ErrNotJSON},
		{"body an array", `[1]`, "a", "1", ErrNotObject},
		{"body a string", `"x"`, "a", "1", ErrNotObject},
		{"empty path", `{}`, "", "1", nil},
		{"empty segment", `{}`, "payload..a", "1", nil},
		{"trailing dot", `{}`, "payload.", "1", nil},
		{"too deep a path", `{}`, strings.Repeat("a.", 40) + "a", "1", nil},
		{"deep body", strings.Repeat(`{"a":`, 20_000) + "1" + strings.Repeat("}", 20_000), "a", "1", ErrNotJSON},
		{"deep value at depth", `{"a":{"b":{}}}`, "a.b.c", strings.Repeat("[", 9_999) + strings.Repeat("]", 9_999), ErrNotJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Set([]byte(tt.body), tt.path, tt.value)
			if err == nil {
				t.Fatalf("Set = %s, want an error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
		})
	}
}
