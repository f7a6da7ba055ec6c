package devtools

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// Each re-serialisation is valid JSON with the same value as the body, and
// differs from the pretty-printed body and from the other forms.
func TestReserialisations(t *testing.T) {
	t.Parallel()
	body := []byte(`{"field":"message","payload":{"text":"a, b: \"c\"\\","price":0.0075,"html":"<b>&"},"id":"evt_1"}`)
	pretty := prettyJSON(body)
	if !bytes.Contains(pretty, []byte("\n  \"payload\": {\n")) {
		t.Fatalf("not pretty:\n%s", pretty)
	}
	want := map[string]string{
		"compact (JSON.stringify, json.Compact)": `{"field":"message","payload":{"text":"a, b: \"c\"\\","price":0.0075,"html":"<b>&"},"id":"evt_1"}`,
		"Python json.dumps":                      `{"field": "message", "payload": {"text": "a, b: \"c\"\\", "price": 0.0075, "html": "<b>&"}, "id": "evt_1"}`,
		"sorted keys (json.Marshal of a map)":    `{"field":"message","id":"evt_1","payload":{"html":"\u003cb\u003e\u0026","price":0.0075,"text":"a, b: \"c\"\\"}}`,
	}
	seen := map[string]bool{string(pretty): true}
	for _, v := range reserialisations {
		got := v.form(pretty)
		if string(got) != want[v.name] {
			t.Errorf("%s:\n got %s\nwant %s", v.name, got, want[v.name])
		}
		var a, b any
		if json.Unmarshal(got, &a) != nil || json.Unmarshal(body, &b) != nil {
			t.Errorf("%s: not JSON: %s", v.name, got)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: a different value from the body: %v", v.name, a)
		}
		if seen[string(got)] {
			t.Errorf("%s: the same bytes as another form", v.name)
		}
		seen[string(got)] = true
	}
}
