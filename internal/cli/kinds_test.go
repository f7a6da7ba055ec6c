package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/cli"
)

// Every destination kind serve offers appears wherever kinds are listed:
// --forward-to's help gives an example URL of each kind that has URLs, a
// config file takes each kind's block, and the message for an entry with
// no block names every kind.
func TestEveryDestinationKindIsOffered(t *testing.T) {
	t.Parallel()
	help := run(t, nil, "", "serve", "--help").stdout
	var forwardTo string
	for line := range strings.SplitSeq(help, "\n") {
		if strings.Contains(line, "--forward-to ") {
			forwardTo = line
		}
	}
	noBlock := serveConfig(t, "  - {name: a}\n")
	_, list, _ := strings.Cut(strings.TrimSpace(noBlock.stderr), "give exactly one of ")
	offered := strings.Split(strings.Replace(list, " or ", ", ", 1), ", ")
	for _, k := range cli.Kinds.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			t.Parallel()
			if len(k.Schemes) > 0 && !strings.Contains(forwardTo, k.Example) {
				t.Errorf("--forward-to's help has no %s URL such as %s: %s", k.Name, k.Example, forwardTo)
			}
			if !slices.Contains(offered, k.Name) {
				t.Errorf("an entry with no block is not told of %s: %s", k.Name, noBlock.stderr)
			}
			// Beside a second block, the kind's block is read as one:
			// the entry has two kinds rather than an unknown key.
			other := "log"
			if k.Name == other {
				other = "http"
			}
			r := serveConfig(t, fmt.Sprintf("  - {name: a, %s: {}, %s: {}}\n", k.Name, other))
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "give exactly one of") {
				t.Errorf("a config file's %s block is not read as a destination: exit %d, %s", k.Name, r.code, r.stderr)
			}
			twice := serveConfig(t, fmt.Sprintf("  - {name: a, %s: {}, %s: {}}\n", k.Name, k.Name))
			if want := fmt.Sprintf("mapping key %q already defined", k.Name); !strings.Contains(twice.stderr, want) {
				t.Errorf("a config file's %s block given twice: %s, want %q", k.Name, twice.stderr, want)
			}
		})
	}
}

// serveConfig runs serve with a config file of these destinations.
func serveConfig(t *testing.T, destinations string) result {
	t.Helper()
	config := filepath.Join(t.TempDir(), "hooklatch.yaml")
	if err := os.WriteFile(config, []byte("secret: "+v1Secret+"\nadmin_addr: \"off\"\ndestinations:\n"+destinations), 0o644); err != nil {
		t.Fatal(err)
	}
	return run(t, nil, "", "serve", "--config", config, "--addr", "127.0.0.1:0")
}

const (
	kindsTableStart = "<!-- destination kinds: generated from internal/cli/kinds.go; go test ./internal/cli -run TestDocsListEveryDestinationKind -update -->\n"
	kindsTableEnd   = "<!-- end of destination kinds -->\n"
)

// The destinations guide's table of kinds is the one the kinds give;
// -update rewrites it.
func TestDocsListEveryDestinationKind(t *testing.T) {
	t.Parallel()
	generatedSection(t, "../../docs/destinations.md", kindsTableStart, kindsTableEnd, kindsTable(cli.Kinds))
}

// kindsTable is the destinations guide's table of kinds.
func kindsTable(r *destination.Registry) string {
	var b strings.Builder
	b.WriteString("| kind (its config file block) | the block's keys | `--forward-to` URLs | delivers to |\n|---|---|---|---|\n")
	for _, k := range r.Kinds() {
		var keys []string
		block := reflect.TypeOf(k.Block()).Elem()
		for f := range block.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			keys = append(keys, "`"+key+"`")
		}
		var urls []string
		for _, s := range k.Schemes {
			urls = append(urls, "`"+s+"://`")
		}
		if k.Fallback {
			urls = append(urls, "`host:port/path`, a port")
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.Name, orNone(keys), orNone(urls), k.Summary)
	}
	return b.String()
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
