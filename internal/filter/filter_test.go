package filter_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/store"
)

// A mistake is found at compile time, and the error says where.
func TestCompileErrorsNameThePosition(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`payload.channel == "whatsapp" &&`, "1:32: unexpected token EOF\n  payload.channel == \"whatsapp\" &&\n                                 ^"},
		{`paylod.channel == "sms"`, "1:1: unknown name paylod"},
		{`type == 1`, "1:6: invalid operation: == (mismatched types string and int)"},
		{"type == \"message.failed\" &&\n  status = \"FAILED\"", "2:10: "},
		{`type`, "the filter must give true or false: expected bool, but got string"},
		{`  `, "the filter is empty"},
	} {
		_, err := filter.Compile(c.src)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Compile(%q) = %v, want %q…", c.src, err, c.want)
		}
		var fe *filter.Error
		if err != nil && strings.HasPrefix(c.want, "1:") && !errors.As(err, &fe) {
			t.Errorf("Compile(%q): %T is not a *filter.Error", c.src, err)
		}
	}
}

func TestVariables(t *testing.T) {
	ev := &store.Event{
		Body:  []byte(`{"field":"message","sub_type":"message.failed","payload":{"channel":"sms","message_status":"FAILED","price":0.02}}`),
		Field: "message", Type: "message.failed", Subject: "m1", Status: "FAILED",
		Headers: map[string]string{"x-webhook-id": "evt_1"},
	}
	for src, want := range map[string]bool{
		`payload.channel == "sms" && payload.price > 0.01`:                  true,
		`field == "message" && type == "message.failed" && subject == "m1"`: true,
		`status in ["FAILED", "BLOCKED"]`:                                   true,
		`headers["x-webhook-id"] == "evt_1"`:                                true,
		`payload.channel == "whatsapp"`:                                     false,
		`payload.missing == nil`:                                            true,
	} {
		f, err := filter.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := f.Match(filter.VarsOf(ev, true)); err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
}

// A body that is not JSON has an empty payload: a comparison is false, an
// ordering an error.
func TestBodyThatIsNotJSON(t *testing.T) {
	vars := filter.VarsOf(&store.Event{Body: []byte("not json")}, true)
	eq, _ := filter.Compile(`payload.channel == "sms"`)
	if ok, err := eq.Match(vars); ok || err != nil {
		t.Errorf("== on no payload = %v, %v; want false", ok, err)
	}
	gt, _ := filter.Compile(`payload.price > 0.01`)
	if _, err := gt.Match(vars); err == nil {
		t.Error("> on no payload: want an error")
	}
}

func BenchmarkMatch(b *testing.B) {
	ev := &store.Event{Body: []byte(`{"field":"message","sub_type":"message.failed","timestamp":"2025-11-03T14:02:15Z","payload":{"account_id":"7ba7b820-9dad-11d1-80b4-00c04fd430c8","message_id":"c0a80164-1d2e-4b7c-8f90-5e6a7b8c9d01","message_status":"FAILED","channel":"whatsapp","inbound_number":"+4915123456789","outbound_number":"+14155550987","template_id":"9ba7b840-9dad-11d1-80b4-00c04fd430c8"}}`)}
	f, err := filter.Compile(`payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("vars", func(b *testing.B) {
		for b.Loop() {
			filter.VarsOf(ev, true)
		}
	})
	vars := filter.VarsOf(ev, true)
	b.Run("match", func(b *testing.B) {
		for b.Loop() {
			if ok, err := f.Match(vars); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}

// Routing decodes an event's body only for a filter that reads payload.
func TestReadsPayload(t *testing.T) {
	for src, want := range map[string]bool{
		`payload.channel == "sms"`:                     true,
		`type == "message.failed" && len(payload) > 0`: true,
		`status in ["FAILED"] && headers["x"] == "y"`:  false,
		`type startsWith "message." && subject != "x"`: false,
		`let p = payload; p.channel == "sms" || false`: true,
	} {
		f, err := filter.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if f.ReadsPayload() != want {
			t.Errorf("%s: ReadsPayload = %v, want %v", src, !want, want)
		}
	}
}
