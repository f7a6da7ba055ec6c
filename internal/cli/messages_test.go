package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// goNames matches what a Go programmer's error shows and a user of the
// command line should never see: package and type names, Config fields,
// Go types.
var goNames = regexp.MustCompile(`Config\.|event\.Types|(^|[ (])(cli|devtools|httpdest|execdest|dispatch|yaml|signature|sqlite|event)[.:]|struct \{|into (int|string|bool|\[\])|\(s\)`)

// Mistakes in flags, config files and scenarios are told in the terms the
// user wrote them in.
func TestErrorsNameNoGoIdentifiers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	files := 0
	dest := func(yaml string) string {
		files++
		return file(fmt.Sprintf("dest-%d.yaml", files), "destinations:\n"+yaml)
	}
	serve := func(extra ...string) []string {
		return append([]string{"serve", "--secret", v1Secret, "--addr", "127.0.0.1:0", "--admin-addr", "off"}, extra...)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown type", []string{"trigger", "zzzzzz", "--print", "--secret", v1Secret}, `unknown event type "zzzzzz" ('hooklatch trigger --list' lists every type)`},
		{"unknown key", serve("--config", file("key.yaml", "secrte: x\n")), `line 1: unknown key "secrte"`},
		{"not a number", serve("--config", file("num.yaml", "rejections_max: lots\n")), `line 1: "lots" is not a whole number`},
		{"nested unknown key", serve("--config", dest(`  - {name: app, http: {url: "http://x", bogus: 1}}`)), `line 2: unknown key "bogus"`},
		{"types not a list", serve("--config", dest(`  - {name: app, types: message.*, log: {}}`)), `"message.*" is not a list`},
		{"http url", serve("--config", dest(`  - {name: app, http: {url: "ftp://x/y"}}`)), `destinations[0] (app): http.url "ftp://x/y": want an http or https URL`},
		{"http header", serve("--config", dest(`  - {name: app, http: {url: "http://x", headers: {Host: y}}}`)), `destinations[0] (app): http.headers: Host is set by hooklatch`},
		{"http scheme", serve("--config", dest(`  - {name: app, http: {url: "http://x", scheme: v2}}`)), `destinations[0] (app): http.scheme: "v2": want v1, legacy or as-received`},
		{"exec command", serve("--config", dest(`  - {name: app, exec: {command: [hooklatch-no-such-program]}}`)), `destinations[0] (app): exec.command: "hooklatch-no-such-program": executable file not found`},
		{"exec dir", serve("--config", dest(`  - {name: app, exec: {command: [sh], dir: /nonexistent-dir}}`)), `destinations[0] (app): exec.dir: `},
		{"exec env", serve("--config", dest(`  - {name: app, exec: {command: [sh], env: [NOVALUE]}}`)), `destinations[0] (app): exec.env: "NOVALUE" is not KEY=value`},
		{"two names", serve("--config", dest("  - {name: app, log: {}}\n  - {name: app, log: {}}")), `destinations[1] (app): destinations[0] has that name already`},
		{"type pattern", serve("--config", dest(`  - {name: app, types: ["[x"], log: {}}`)), `destinations[0] (app): types: "[x" is not a type or pattern`},
		{"filter", serve("--config", dest(`  - {name: alerts, filter: 'payload.channel == "whatsapp" &&', log: {}}`)), "destinations[0] (alerts): filter: 1:32: unexpected token EOF\n  payload.channel == \"whatsapp\" &&\n                                 ^"},
		{"forward-filter", serve("--forward-to", "8080", "--forward-filter", `paylod.channel == "sms"`), `--forward-filter: 1:1: unknown name paylod`},
		{"forward-to", serve("--forward-to", "ftp://x/y"), `--forward-to "ftp://x/y": want an http or https URL`},
		{"forward-types", serve("--forward-to", "8080", "--forward-types", "[x"), `--forward-types: "[x" is not a type or pattern`},
		{"listen forward-to", []string{"listen", "--secret", v1Secret, "--forward-to", "ftp://x/y"}, `--forward-to "ftp://x/y": want an http or https URL`},
		{"bad scheme", []string{"sign", f1, "--secret", v1Secret, "--scheme", "v3"}, `--scheme: "v3": want v1 or legacy`},
		{"bad secret", []string{"sign", f1, "--secret", "whsec_!!"}, `signing secret: list item 1: whsec_ secret is not valid base64`},
		{"bad forward secret", serve("--forward-to", "8080", "--forward-secret", "whsec_YWJj whsec_!!"), `--forward-secret: list item 2: whsec_ secret is not valid base64`},
		{"missing argument", []string{"events", "show"}, `hooklatch: events show takes EVENT_ID, got nothing`},
		{"extra argument", []string{"events", "ls", "x"}, `hooklatch: events ls takes no arguments, got x`},
		{"trigger to", []string{"trigger", "message.sent", "--secret", v1Secret, "--to", "ftp://x/y"}, `--to "ftp://x/y": want an http or https URL`},
		{"scenario key", []string{"send", "--secret", v1Secret, "--to", "http://127.0.0.1:1/", "--scenario", file("s.yaml", "steps:\n  - evnts: [message.sent]\n")}, `line 2: unknown key "evnts"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := run(t, nil, "", c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", r.code, r.stderr, cli.ExitUsage, c.want)
			}
			if m := goNames.FindString(r.stderr); m != "" {
				t.Errorf("the message shows %q, a Go name: %s", m, r.stderr)
			}
		})
	}
}
