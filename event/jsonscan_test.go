package event

import (
	"encoding/json"
	"testing"
)

// The scanner also reads payloads of Envelopes built by hand, which no one
// validated: it must stay in bounds and terminate on anything.
func TestScannerOnMalformedPayloads(t *testing.T) {
	t.Parallel()

	payloads := []string{
		``, `{`, `}`, `{"`, `{"message_status"`, `{"message_status":`, `{"message_status":"DELIV`,
		`{"a":[}`, `{"a":"\"}`, `{"a":1,}`, `{,"a":1}`, `{"a"1}`, `{"a":}`, `"x"`, `[1]`, `null`,
		`{"message_id":"m1" "x":1}`, `{"message_status":"SENT"}}}}`, `{"a":{"b":{"c":`,
		"{\"message_status\":\"SENT\\", `{"message_status":"SENT","message_id":"m1"`,
	}
	for _, p := range payloads {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			env := &Envelope{Field: "message", Payload: json.RawMessage(p)}
			_, _, _, _ = env.Type(), env.Status(), env.Subject(), env.Known()
			_, _ = env.Message()
			_, _ = env.Inbound()
		})
	}
}

func TestValueEnd(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want int
	}{
		{`"abc"`, 5},
		{`"a\"c" `, 6},
		{`"a\\"x`, 5},
		{`{"a":"}"}x`, 9},
		{`[[],{"]":[]}]`, 13},
		{`123,`, 3},
		{`true}`, 4},
		{`"abc`, -1},
		{`{"a":1`, -1},
		{`,`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		if got := valueEnd([]byte(tt.in), 0); got != tt.want {
			t.Errorf("valueEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	t.Parallel()

	for _, s := range []string{"", "plain", `quote " backslash \`, "ctl \x00\x01\x1f\n\r\t", "<&>", "ünïcødé ☎", "bad \xff utf8", "\u2028"} {
		raw := appendString(nil, s)
		if !json.Valid(raw) {
			t.Fatalf("appendString(%q) = %s, not valid JSON", s, raw)
		}
		var back string
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		want := s
		if s == "bad \xff utf8" {
			want = "bad \uFFFD utf8"
		}
		if back != want {
			t.Errorf("round trip of %q = %q", s, back)
		}
	}
}
