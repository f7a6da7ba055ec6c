package filter_test

import (
	"errors"
	"slices"
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
	ev := &store.EventData{
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
		for _, reads := range []filter.Reads{f.Reads(), filter.ReadsAll} {
			if got, err := f.Match(filter.VarsOf(ev, reads)); err != nil || got != want {
				t.Errorf("%s (reads %v) = %v, %v; want %v", src, reads.Members(), got, err, want)
			}
		}
	}
}

// A body that is not JSON has an empty payload: a comparison is false, an
// ordering an error.
func TestBodyThatIsNotJSON(t *testing.T) {
	ev := &store.EventData{Body: []byte("not json")}
	eq, _ := filter.Compile(`payload.channel == "sms"`)
	gt, _ := filter.Compile(`payload.price > 0.01`)
	for _, reads := range []filter.Reads{eq.Reads().Union(gt.Reads()), filter.ReadsAll} {
		vars := filter.VarsOf(ev, reads)
		if ok, err := eq.Match(vars); ok || err != nil {
			t.Errorf("== on no payload = %v, %v; want false", ok, err)
		}
		if _, err := gt.Match(vars); err == nil {
			t.Error("> on no payload: want an error")
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	ev := &store.EventData{Body: []byte(`{"field":"message","sub_type":"message.failed","timestamp":"2025-11-03T14:02:15Z","payload":{"account_id":"7ba7b820-9dad-11d1-80b4-00c04fd430c8","message_id":"c0a80164-1d2e-4b7c-8f90-5e6a7b8c9d01","message_status":"FAILED","channel":"whatsapp","inbound_number":"+4915123456789","outbound_number":"+14155550987","template_id":"9ba7b840-9dad-11d1-80b4-00c04fd430c8"}}`)}
	f, err := filter.Compile(`payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`)
	if err != nil {
		b.Fatal(err)
	}
	// vars decodes only the members the filter reads; vars-all the whole
	// payload, as a filter that uses payload otherwise does.
	b.Run("vars", func(b *testing.B) {
		for b.Loop() {
			filter.VarsOf(ev, f.Reads())
		}
	})
	b.Run("vars-all", func(b *testing.B) {
		for b.Loop() {
			filter.VarsOf(ev, filter.ReadsAll)
		}
	})
	vars := filter.VarsOf(ev, f.Reads())
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
		if f.Reads().Payload() != want {
			t.Errorf("%s: Reads().Payload() = %v, want %v", src, !want, want)
		}
	}
}

// A filter that reads payload members by constant names needs only
// those; one that uses payload any other way needs all of it.
func TestReads(t *testing.T) {
	for src, want := range map[string][]string{
		`payload.channel == "sms"`:                              {"channel"},
		`payload["channel"] == "sms" && payload.channel != "x"`: {"channel"},
		`payload?.a?.b == nil && payload.a.c == 1`:              {"a"},
		`payload.z == 1 || payload["a"] in ["x"]`:               {"a", "z"},
		`payload["cha" + "nnel"] == "sms"`:                      {"channel"}, // folded to a constant
		`all(payload.items ?? [], .ok) && payload.n > 1`:        {"items", "n"},
		`status in ["FAILED"] && headers["x"] == "y"`:           nil,
		`type == "message.failed" && len(payload) > 0`:          {"*"},
		`payload[type] == "x"`:                                  {"*"},
		`"channel" in payload`:                                  {"*"},
		`let p = payload; p.channel == "sms"`:                   {"*"},
		`payload.channel == "sms" && len(keys(payload)) > 1`:    {"*"},
		`$env.payload.channel == "sms"`:                         {"*"},
		`$env["payload"]["channel"] == "sms"`:                   {"*"},
		`payload == {}`:                                         {"*"},
	} {
		f, err := filter.Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		r := f.Reads()
		got := r.Members()
		if r.All() {
			got = []string{"*"}
		}
		if !slices.Equal(got, want) || r.Payload() != (want != nil) {
			t.Errorf("%s reads %q (payload %v), want %q", src, got, r.Payload(), want)
		}
	}
}
