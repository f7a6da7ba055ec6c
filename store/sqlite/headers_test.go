package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/store/storetest"
)

// headersAsEncodingJSON fails t unless headersJSON(h) is byte for byte
// what json.Marshal writes, and, where h is valid UTF-8 (json.Marshal
// writes invalid bytes as U+FFFD too), decodes back to h.
func headersAsEncodingJSON(t *testing.T, h map[string]string) {
	t.Helper()
	want, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	got := headersJSON(h)
	if !bytes.Equal(got, want) {
		t.Fatalf("headersJSON(%q)\n got %s\nwant %s", h, got, want)
	}
	for k, v := range h {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return
		}
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if !maps.Equal(back, h) || (back == nil) != (h == nil) {
		t.Fatalf("%s decodes to %q, want %q", got, back, h)
	}
}

func TestHeadersJSONIsEncodingJSONs(t *testing.T) {
	t.Parallel()
	var control strings.Builder
	for b := range 0x20 {
		control.WriteByte(byte(b))
	}
	control.WriteByte(0x7f)
	many := map[string]string{}
	for i := range 40 { // more than fit the key stack
		many[strings.Repeat("k", 40-i)] = strings.Repeat("v", i)
	}
	for name, h := range map[string]map[string]string{
		"nil":     nil,
		"empty":   {},
		"kept":    {"x-webhook-id": "d4f5a6b7", "content-type": "application/json", "user-agent": "Sent-Webhooks/1.0", "x-webhook-signature": "v1,t=1,sig=="},
		"order":   {"b": "", "a": "", "B": "", "ä": "", "a\x00": "", "": "empty key", "\u2028": ""},
		"quotes":  {`"k"`: `say "hi" \ \\ /`},
		"control": {control.String(): control.String()},
		"html":    {"<k>": "<script>alert('&amp;')</script> > &"},
		"lines":   {"sep": "a\u2028b\u2029c", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"unicode": {"ключ": "значение 🎉 e\u0301 \ufeff \uffff \U0010FFFF"},
		"invalid": {"\xff": "\xe2\x80", "k": "ok \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 end\xe2"},
		"long":    {"x-webhook-payload": strings.Repeat(`<"\`, 2000)},
		"many":    many,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			headersAsEncodingJSON(t, h)
		})
	}
}

// Headers come back from the store as they went in, escapes and all.
func TestHeadersRoundTripThroughTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "h.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := storetest.NewEvent("sent", "event-id:evt_headers")
	ev.Headers = map[string]string{
		"x-webhook-id": `"quoted" \ <b>&amp;</b>`,
		"user-agent":   "tab\there\nnewline \u2028 ключ 🎉 \x00\x1f",
		"":             "",
	}
	if _, err := s.Append(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvent(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Headers, ev.Headers) {
		t.Errorf("headers read back = %q, want %q", got.Headers, ev.Headers)
	}
}

func FuzzHeadersJSON(f *testing.F) {
	f.Add("content-type", "application/json", "x-webhook-id", "d4f5a6b7")
	f.Add("<", "&\u2028\"\\\x00\x1f\x7f", "\xff", "\xe2\x80")
	f.Add("", "", "b", "a")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		headersAsEncodingJSON(t, map[string]string{k1: v1, k2: v2})
	})
}

// BenchmarkHeadersJSON encodes the headers the receiver keeps of a
// request from Sent, here and with json.Marshal (compare the two):
//
//	go test -run '^$' -bench HeadersJSON -benchmem ./store/sqlite
func BenchmarkHeadersJSON(b *testing.B) {
	h := sentHeaders
	b.Run("appender", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			headersJSON(h)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(h); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// decodeHeaders reads back whatever encoding/json reads, exactly as it
// does, and fails where it fails.
func FuzzDecodeHeaders(f *testing.F) {
	f.Add(`{"content-type":"application/json","x-webhook-id":"d4f5a6b7"}`)
	f.Add(`{}`)
	f.Add(`null`)
	f.Add(`{"a":"\u003c","b":"x"}`)
	f.Add(`{ "a" : "b" }`)
	f.Add(`{"a":"b",}`)
	f.Add(`{"a":"b"}}`)
	f.Add(`{"a":"b","a":"c"}`)
	f.Add("{\"a\":\"\xff\"}")
	f.Add(`{"a":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := decodeHeaders(s)
		var want map[string]string
		wantErr := json.Unmarshal([]byte(s), &want)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeHeaders(%q) error %v, encoding/json %v", s, err, wantErr)
		}
		if err == nil && (fmt.Sprint(got) != fmt.Sprint(want) || (got == nil) != (want == nil)) {
			t.Fatalf("decodeHeaders(%q) = %#v, encoding/json %#v", s, got, want)
		}
	})
}

// BenchmarkDecodeHeaders reads back what headersJSON wrote, here and with
// json.Unmarshal (compare the two).
func BenchmarkDecodeHeaders(b *testing.B) {
	s := string(headersJSON(sentHeaders))
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decodeHeaders(s)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var h map[string]string
			json.Unmarshal([]byte(s), &h)
		}
	})
}

// sentHeaders are the headers the receiver keeps of a request from Sent.
var sentHeaders = map[string]string{
	"content-type":        "application/json",
	"user-agent":          "Sent-Webhooks/1.0",
	"x-webhook-id":        "01936f8e-2b4c-7d3a-9f10-5c6b7a8d9e0f",
	"x-webhook-event-id":  "evt_01JD3X5Q7ZK8M2N4P6R8T0V2W4",
	"x-webhook-timestamp": "1732550400",
	"x-webhook-signature": "v1,t=1732550400,sig=3q2+7wAAAAC6ABAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
}
