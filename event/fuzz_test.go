package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// Seeds beyond the fixtures; more live in testdata/fuzz/<FuzzName>/.
var parseSeeds = []string{
	`{"field":"message","sub_type":"message.sent","value":{"message_id":"m1","message_status":"SENT"}}`,
	`{"id":"evt_legacy_0002","field":"templates","timestamp":"2025-10-31T12:18:14Z","payload":{"status":"approved","template_id":"t1"}}`,
	`{"field":"templates","event":"templates.approved","timestamp":"2026-03-11T21:50:49.6841671+00:00","payload":{"status":"APPROVED"}}`,
	`{"fi\u0065ld":"contact","event":"contact.opt_out","payload":{"contact_id":"k1","opt_out":true},"x":[1,{"y":null}]}`,
	`{"field":"message","payload":{"from":"+14155550101","text":null}}`,
	`{"field":"call","event":"call.completed","payload":{"call_id":"c1","duration_seconds":61,"price":0.028}}`,
	`{"field":"channel","event":"channel.submitted","payload":{"country":"US","sender_value":null,"status":"PENDING_REVIEW"}}`,
	`{"field":1}`, `{"field":"message","payload":"x"}`, `[[[[[]]]]]`, `{"a":{"a":{"a":{"a":{}}}}}`, "{\"field\":\"m\xffe\"}", `{"field":"message","timestamp":1705334531}`,
}

func FuzzParse(f *testing.F) {
	for i := 1; i <= 10; i++ {
		f.Add(fixture(f, fmt.Sprintf("f%d", i)))
	}
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := Parse(body)
		if key := DedupeKey(nil, body, env); !strings.Contains(key, ":") {
			t.Fatalf("DedupeKey = %q", key)
		}

		// Differential check against encoding/json: Parse accepts exactly
		// the objects with a non-empty string field and an object (or
		// null, or absent) payload/value.
		var top map[string]json.RawMessage
		stdErr := json.Unmarshal(body, &top)
		if err != nil {
			if env != nil {
				t.Fatal("Parse returned an envelope and an error")
			}
			if !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrNotObject) &&
				!errors.Is(err, ErrMissingField) && !errors.Is(err, ErrBadPayload) {
				t.Fatalf("error of no known class: %v", err)
			}
			if stdErr == nil && top != nil && acceptable(top) {
				t.Fatalf("Parse rejected what encoding/json reads as a valid envelope: %v", err)
			}
			return
		}
		if stdErr != nil || top == nil {
			t.Fatalf("Parse accepted what encoding/json rejects (%v)", stdErr)
		}
		var field string
		if json.Unmarshal(top["field"], &field) != nil || field != env.Field {
			t.Fatalf("Field = %q, encoding/json reads %s", env.Field, top["field"])
		}
		if strings.TrimSpace(env.Field) == "" {
			t.Fatal("empty Field accepted")
		}
		if env.Payload != nil && (env.Payload[0] != '{' || !json.Valid(env.Payload)) {
			t.Fatalf("Payload = %q", env.Payload)
		}
		for k, v := range env.Extra {
			if !json.Valid(v) {
				t.Fatalf("Extra[%q] = %q", k, v)
			}
			if _, ok := top[k]; !ok {
				t.Fatalf("Extra has %q, the body does not", k)
			}
		}

		// The readings never panic, match the reference and stay canonical.
		checkReadings(t, env)
		typ := env.Type()
		for i := 0; i < len(typ); i++ {
			if !nameByte(typ[i]) {
				t.Fatalf("Type %q not canonical", typ)
			}
		}
		if len(typ) > 2*maxNamePart+1 {
			t.Fatalf("Type of %d bytes", len(typ))
		}
		_ = env.Family()
		_ = env.Known()
		if st := env.Status(); st != strings.ToUpper(st) {
			t.Fatalf("Status %q not upper case", st)
		}
		if s := env.Subject(); s.Kind == "" && s.ID != "" || s.Kind != "" && s.ID == "" {
			t.Fatalf("Subject = %#v", s)
		}
		_, _ = env.Message()
		_, _ = env.Inbound()
		_, _ = env.Template()
		_, _ = env.Contact()
		_, _ = env.ChannelUpdate()
		_, _ = env.Call()
	})
}

// acceptable reports whether a decoded top level makes a valid envelope.
func acceptable(top map[string]json.RawMessage) bool {
	var field string
	if json.Unmarshal(top["field"], &field) != nil || strings.TrimSpace(field) == "" {
		return false
	}
	isObjOrNull := func(raw json.RawMessage) bool {
		raw = bytes.TrimSpace(raw)
		return raw == nil || raw[0] == '{' || string(raw) == "null"
	}
	p, hasP := top["payload"]
	if hasP && string(bytes.TrimSpace(p)) != "null" {
		return isObjOrNull(p)
	}
	return isObjOrNull(top["value"])
}

func FuzzSet(f *testing.F) {
	f.Add(fixture(f, "f1"), "payload.message_status", "FAILED")
	f.Add(fixture(f, "f2"), "payload.new.deep.key", `{"a":[1,2]}`)
	f.Add(fixture(f, "f8"), "id", "null")
	f.Add([]byte(`{}`), "a", `"quoted"`)
	f.Add([]byte(` { "a" : { } } `), "a.b", "-1.5e3")
	f.Add([]byte(`{"a":1,"a":{"b":2}}`), "a.b", "true")
	f.Add([]byte(`{"fi\u0065ld":"x"}`), "field", "x\"y\n")
	f.Add([]byte(`{"a":"x"}`), "a.b", "1")
	f.Add([]byte(`[1]`), "a", "1")
	f.Fuzz(func(t *testing.T, body []byte, path, value string) {
		out, err := Set(body, path, value)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Set produced invalid JSON: %q", out)
		}
		got, ok := lookup(out, path)
		if !ok || !bytes.Equal(got, literal(value)) {
			t.Fatalf("at %q: %q, want %q", path, got, literal(value))
		}

		// encoding/json sees the same value at the path.
		var doc, want any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(literal(value), &want); err != nil {
			t.Fatal(err)
		}
		for _, seg := range strings.Split(path, ".") {
			obj, ok := doc.(map[string]any)
			if !ok {
				t.Fatalf("encoding/json: %q runs through a non-object", path)
			}
			doc = obj[seg]
		}
		if !reflect.DeepEqual(doc, want) {
			t.Fatalf("encoding/json reads %#v at %q, want %#v", doc, path, want)
		}

		// Setting the same value again changes nothing.
		again, err := Set(out, path, value)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second Set: %v\n%q\n%q", err, again, out)
		}
	})
}
