package filter_test

import (
	"testing"

	"github.com/hooklatch/hooklatch/internal/filter"
	"github.com/hooklatch/hooklatch/store"
)

// The examples of docs/filters.md compile and mean what it says.
func TestDocsExamples(t *testing.T) {
	sms := &store.EventData{Type: "message.failed", Status: "FAILED",
		Body:    []byte(`{"payload":{"channel":"sms","price":0.07}}`),
		Headers: map[string]string{"x-request-id": "r1"}}
	bare := &store.EventData{Type: "template.approved", Body: []byte(`{"payload":{"category":"MARKETING"}}`)}
	for _, c := range []struct {
		src       string
		sms, bare bool
	}{
		{`status in ["FAILED", "BLOCKED"]`, true, false},
		{`payload.channel == "sms" && (payload.price ?? 0) > 0.05`, true, false},
		{`type startsWith "template." && payload.category == "MARKETING"`, false, true},
		{`headers["x-request-id"] != ""`, true, false},
		{`payload.a?.b == nil`, true, true},
	} {
		f, err := filter.Compile(c.src)
		if err != nil {
			t.Fatal(err)
		}
		for ev, want := range map[*store.EventData]bool{sms: c.sms, bare: c.bare} {
			if got, err := f.Match(filter.VarsOf(ev, f.Reads())); err != nil || got != want {
				t.Errorf("%s on %s = %v, %v; want %v", c.src, ev.Type, got, err, want)
			}
		}
	}
}
