package devtools

import (
	"encoding/json"

	"github.com/hooklatch/hooklatch/internal/jsonform"
)

// reserialisation is one way a framework turns a JSON body into other
// bytes: parsed, then written again.
type reserialisation struct {
	name string
	form func(body []byte) []byte
}

// reserialisations are the forms rejects-reserialised-json signs instead of
// the raw bytes: what a handler that verifies a re-serialised body computes.
// Compact keeps the key order (JavaScript's JSON.stringify(JSON.parse(b)),
// Go's json.Compact); Python's json.dumps keeps it too, with ", " and ": "
// separators; sorted keys is Go's json.Marshal of a decoded map.
var reserialisations = []reserialisation{
	{"compact (JSON.stringify, json.Compact)", compactJSON},
	{"Python json.dumps", pythonJSON},
	{"sorted keys (json.Marshal of a map)", sortedJSON},
}

// prettyJSON is body indented by two spaces, or body when it is not JSON.
func prettyJSON(body []byte) []byte { return orBody(jsonform.Indent(body, "  "), body) }

// compactJSON is body without insignificant space, or body when it is not
// JSON.
func compactJSON(body []byte) []byte { return orBody(jsonform.Compact(body), body) }

// pythonJSON is body as Python's json.dumps writes it by default: compact
// but for a space after each ',' and ':' between tokens.
func pythonJSON(body []byte) []byte { return jsonform.Respace(compactJSON(body), ", ", ": ") }

// sortedJSON is body decoded into Go maps and encoded again: keys sorted,
// numbers as float64, HTML characters escaped. Body when it is not JSON.
func sortedJSON(body []byte) []byte {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

// orBody is form, or body when the form could not be made.
func orBody(form, body []byte) []byte {
	if form == nil {
		return body
	}
	return form
}
