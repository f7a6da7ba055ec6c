package filter

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/store"
)

// edgeBodies are bodies where reading only some members could go wrong:
// the envelope's spellings, repeats, escapes and JSON that is not valid.
var edgeBodies = []string{
	// The plugin's spelling, and both spellings at once.
	`{"field":"message","value":{"channel":"sms","message_status":"FAILED"}}`,
	`{"value":{"channel":"sms"},"payload":{"channel":"rcs"}}`,
	`{"payload":{},"value":{"channel":"sms"}}`,
	`{"payload":null,"value":{"channel":"sms"}}`,
	// encoding/json matches struct fields without regard to case.
	`{"PAYLOAD":{"channel":"sms"}}`,
	`{"Payload":{"channel":"sms"},"payload":{"message_status":"FAILED"}}`,
	`{"VaLuE":{"channel":"sms"}}`,
	`{"pay\u006coad":{"channel":"sms"}}`,
	// A repeated payload merges; null clears; other values are skipped.
	`{"payload":{"channel":"sms","a":1},"payload":{"channel":"rcs"}}`,
	`{"payload":{"channel":"sms"},"payload":null}`,
	`{"payload":{"channel":"sms"},"payload":null,"value":{"channel":"rcs"}}`,
	`{"payload":{"channel":"sms"},"payload":null,"payload":{"a":2}}`,
	`{"payload":{"channel":"sms"},"payload":5,"payload":"x","payload":[1]}`,
	`{"payload":"x","value":{"channel":"sms"}}`,
	// A repeated member takes its last value, whole.
	`{"payload":{"channel":"sms","channel":"whatsapp"}}`,
	`{"payload":{"a":{"x":1},"a":{"y":2}}}`,
	// Members by escaped, non-ASCII and invalid UTF-8 names.
	`{"payload":{"ch\u0061nnel":"sms","caf\u00e9":1,"café":2}}`,
	"{\"payload\":{\"\xff\":1,\"a\xffb\":\"c\xffd\",\"\\ud800\":3,\"\\ud83d\\ude00\":4}}",
	`{"payload":{"channel":"sms\n\"quoted\"","text":"\u00e9\ud83d\ude00"}}`,
	// Values of every kind, and numbers encoding/json cannot hold.
	`{"payload":{"a":true,"b":false,"c":null,"d":-0.5e-3,"e":[1,{"f":[]}],"g":{},"h":1e400,"i":{"j":-1e999}}}`,
	`{"payload":{"a":0,"b":-0,"c":12345678901234567890,"d":1E+2}}`,
	// Not valid JSON, or not an object: an empty payload.
	``, ` `, `not json`, `null`, `[{"payload":{"a":1}}]`, `"payload"`, `{"payload":{"a":1}}x`,
	`{"payload":{"a":1}`, `{"payload":{"a":1},}`, `{"payload":{"a":01}}`, `{"payload":{"a":1.}}`,
	`{"payload":{"a":-}}`, `{"payload":{"a":"\x"}}`, `{"payload":{"a":"\u12"}}`,
	"{\"payload\":{\"a\":\"\t\"}}", `{"payload":{"a":tru}}`, `{"payload":{"a":[1,]}}`,
	`{"payload":{"a":1},"b":[}`, `{"payload":{"a":1} "b":2}`, `{'payload':{}}`,
	// Whitespace everywhere JSON allows it.
	" \t\r\n{ \"payload\" : { \"a\" : [ 1 , 2 ] , \"b\" : { } } } \n",
	// Nesting at encoding/json's limit, and past it.
	`{"payload":{"a":1},"deep":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`,
	`{"payload":{"a":1},"deep":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
}

// testBodies are the project's Sent fixtures (those of the protocol
// notes), the seed corpus of event.Parse's fuzzer, and edgeBodies.
func testBodies(tb testing.TB) [][]byte {
	var bodies [][]byte
	files, _ := filepath.Glob("../../testdata/sent/*.json")
	corpus, _ := filepath.Glob("../../event/testdata/fuzz/FuzzParse/*")
	if len(files) < 10 || len(corpus) == 0 {
		tb.Fatalf("found %d fixtures and %d corpus entries", len(files), len(corpus))
	}
	for _, name := range append(files, corpus...) {
		raw, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(name, "fuzz") {
			raw = corpusBytes(tb, name, raw)
		}
		bodies = append(bodies, raw)
	}
	for _, b := range edgeBodies {
		bodies = append(bodies, []byte(b))
	}
	return bodies
}

// corpusBytes is the one []byte of a fuzz corpus file.
func corpusBytes(tb testing.TB, name string, raw []byte) []byte {
	_, arg, _ := strings.Cut(string(raw), "\n[]byte(")
	s, err := strconv.Unquote(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(arg), ")")))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

// keyLike are the strings of a body that look like keys.
var keyLike = regexp.MustCompile(`"([^"\\]*)"\s*:`)

// membersOf are names to read of body: the members its payload has,
// whatever looks like a key in it (members of a payload that is not
// valid JSON among them), and some it has not.
func membersOf(body []byte) []string {
	names := []string{"channel", "message_status", "missing", ""}
	for k := range payloadOf(body) {
		names = append(names, k)
	}
	for _, m := range keyLike.FindAllSubmatch(body, -1) {
		names = append(names, string(m[1]))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// checkMembers fails when payloadMembers reads names of body otherwise
// than the whole payload decoded by encoding/json.
func checkMembers(t *testing.T, body []byte, names []string) {
	t.Helper()
	full := payloadOf(body)
	got := payloadMembers(body, names)
	for _, name := range names {
		w, wok := full[name]
		g, gok := got[name]
		if wok != gok || !reflect.DeepEqual(g, w) {
			t.Errorf("%q in %q: got %#v (present %v), want %#v (present %v)", name, body, g, gok, w, wok)
		}
	}
	for name := range got {
		if !slices.Contains(names, name) {
			t.Errorf("%q: %q decoded, not asked for", body, name)
		}
	}
}

// Reading only some members of the payload gives what decoding it whole
// gives them, on every body the project knows.
func TestPayloadMembersAsDecoded(t *testing.T) {
	t.Parallel()
	for _, body := range testBodies(t) {
		names := membersOf(body)
		checkMembers(t, body, names)
		for _, name := range names {
			checkMembers(t, body, []string{name})
		}
	}
}

func FuzzPayloadMembers(f *testing.F) {
	for _, body := range testBodies(f) {
		f.Add(body, "channel")
	}
	f.Fuzz(func(t *testing.T, body []byte, name string) {
		names := membersOf(body)
		checkMembers(t, body, names)
		checkMembers(t, body, []string{name})
	})
}

// A filter that reads only some members judges every body as it does on
// the whole payload: the same verdict, or an error on both.
func TestMembersMatchAsAll(t *testing.T) {
	t.Parallel()
	var filters []*Filter
	for _, src := range []string{
		`payload.channel == "whatsapp" && payload.message_status in ["FAILED","BLOCKED"]`,
		`payload.channel == "sms" || payload?.a?.b == nil`,
		`payload["message_status"] != nil`,
		`(payload.price ?? 0) > 0.05`,
		`payload.a > 0`,
		`payload.e[1].f == []`,
		`type startsWith "template." && payload.category == "MARKETING"`,
	} {
		f, err := Compile(src)
		if err != nil {
			t.Fatal(err)
		}
		if f.Reads().All() || !f.Reads().Payload() {
			t.Fatalf("%s reads %+v: want some members", src, f.Reads())
		}
		filters = append(filters, f)
	}
	for _, body := range testBodies(t) {
		ev := &store.EventData{Body: body, Type: "template.approved"}
		all := VarsOf(ev, ReadsAll)
		for _, f := range filters {
			got, gerr := f.Match(VarsOf(ev, f.Reads()))
			want, werr := f.Match(all)
			if got != want || (gerr == nil) != (werr == nil) {
				t.Errorf("%s on %q: %v, %v; on the whole payload %v, %v", f, body, got, gerr, want, werr)
			}
		}
	}
}
