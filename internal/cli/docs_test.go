package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hooklatch/hooklatch/internal/cli"
)

// generatedSection checks that the part of the file at path between the
// lines start and end is want; with -update it rewrites that part.
func generatedSection(t *testing.T, path, start, end, want string) {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := bytes.Cut(doc, []byte(start))
	section, after, ok2 := bytes.Cut(rest, []byte(end))
	if !ok || !ok2 {
		t.Fatalf("%s has no generated section between %q and %q", path, start, end)
	}
	if *update {
		out := string(before) + start + want + end + string(after)
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(section) != want {
		t.Errorf("%s is not what the code gives in its generated section (run the test with -update):\n%s",
			path, lineDiff(string(section), want))
	}
}

// lineDiff lists the lines only in the file (-) and only in what the
// code gives (+).
func lineDiff(file, want string) string {
	in := func(text string) map[string]bool {
		m := map[string]bool{}
		for line := range strings.SplitSeq(text, "\n") {
			m[line] = true
		}
		return m
	}
	inFile, inWant := in(file), in(want)
	var b strings.Builder
	for line := range strings.SplitSeq(file, "\n") {
		if !inWant[line] {
			b.WriteString("- " + line + "\n")
		}
	}
	for line := range strings.SplitSeq(want, "\n") {
		if !inFile[line] {
			b.WriteString("+ " + line + "\n")
		}
	}
	if b.Len() == 0 {
		return "(the same lines, in another order)"
	}
	return b.String()
}

const (
	flagsStart = "<!-- flags: generated from the commands' flags; go test ./internal/cli -run TestConfigurationReferenceListsEveryFlag -update -->\n"
	flagsEnd   = "<!-- end of flags -->\n"
)

// The configuration reference lists every flag of every command as the
// commands define it; -update rewrites it.
func TestConfigurationReferenceListsEveryFlag(t *testing.T) {
	t.Parallel()
	generatedSection(t, "../../docs/configuration.md", flagsStart, flagsEnd, flagsReference(t))
}

// envRef is an environment variable named in a flag's usage.
var envRef = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)

// flagsReference renders, for each command that runs, a table of its
// flags: name, type, default, environment variables and config file key
// (serve's), and usage. It fails t when a usage names an environment
// variable the command line's code never mentions, or when a config file
// key sets no serve flag.
func flagsReference(t *testing.T) string {
	t.Helper()
	root := cli.NewRootCommand(cli.Env{})
	source := cliSource(t)
	keys := configKeys()
	settings := cli.ConfigFileSettings()
	var b strings.Builder
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && !c.Hidden {
			fmt.Fprintf(&b, "\n### `%s`\n\n%s.", c.CommandPath(), c.Short)
			if _, args, _ := strings.Cut(c.Use, " "); args != "" {
				fmt.Fprintf(&b, " Arguments: `%s`.", args)
			}
			b.WriteString("\n\n")
			var rows []string
			add := func(f *pflag.Flag, from string) {
				if f.Hidden || f.Name == "help" || f.Name == "version" {
					return
				}
				usage, env := splitEnv(f.Usage)
				for _, m := range envRef.FindAllStringSubmatch(f.Usage, -1) {
					if !strings.Contains(source, `"`+m[1]+`"`) {
						t.Errorf("%s --%s names $%s, which the command line's code never reads", c.CommandPath(), f.Name, m[1])
					}
				}
				key := "—"
				if c.Name() == "serve" && settings[f.Name] {
					key = "`" + strings.ReplaceAll(f.Name, "-", "_") + "`"
				}
				name := "`--" + f.Name + "`"
				if f.Shorthand != "" {
					name = "`-" + f.Shorthand + "`, " + name
				}
				if from != "" {
					usage += " (from `" + from + "`)"
				}
				rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", name, f.Value.Type(), defaultOf(f), orDash(env), key, cell(usage)))
			}
			c.LocalFlags().VisitAll(func(f *pflag.Flag) { add(f, "") })
			c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
				for p := c.Parent(); p != nil; p = p.Parent() {
					if p.PersistentFlags().Lookup(f.Name) != nil {
						add(f, p.CommandPath())
						return
					}
				}
			})
			if len(rows) == 0 {
				b.WriteString("No flags.\n")
			} else {
				b.WriteString("| flag | type | default | environment | config file key | what it sets |\n|---|---|---|---|---|---|\n")
				b.WriteString(strings.Join(rows, "\n") + "\n")
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	serve, _, _ := root.Find([]string{"serve"})
	for name := range settings {
		if serve.Flags().Lookup(name) == nil {
			t.Errorf("the config file sets %s, which is no serve flag", name)
		}
	}
	for k := range keys {
		if name := strings.ReplaceAll(k, "_", "-"); !settings[name] && k != "destinations" && k != "sources" {
			t.Errorf("the config file's key %s sets nothing", k)
		}
	}
	return b.String()
}

// splitEnv takes the environment variables from the end of a usage, where
// the commands name them in parentheses: "… ($HOOKLATCH_ADDR)".
func splitEnv(usage string) (rest, env string) {
	open := strings.LastIndex(usage, " (")
	if open < 0 || !strings.HasSuffix(usage, ")") || !strings.Contains(usage[open:], "$") {
		return usage, ""
	}
	inner := usage[open+2 : len(usage)-1]
	return usage[:open], envRef.ReplaceAllString(inner, "`$1`")
}

// configKeys are the top-level keys of serve's config file.
func configKeys() map[string]bool {
	keys := map[string]bool{}
	for f := range reflect.TypeFor[cli.ConfigFile]().Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		keys[key] = true
	}
	return keys
}

// cliSource is the command line's non-test Go source, where the
// environment variables it reads are named.
func cliSource(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(src)
	}
	return b.String()
}

func defaultOf(f *pflag.Flag) string {
	if f.DefValue == "" || f.DefValue == "[]" {
		return "—"
	}
	return "`" + f.DefValue + "`"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "<", "&lt;")
	return strings.ReplaceAll(s, "\n", " ")
}

// Every relative link in the README and the guides leads to a file that
// exists and, for a link into a Markdown file, to one of its headings.
func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	guides, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files := append([]string{"../../README.md"}, guides...)
	checked := 0
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range markdownLinks(string(text)) {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, anchor, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s links to %s, which does not exist", file, target)
					continue
				}
			}
			if anchor == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			doc, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(headingAnchors(string(doc)), anchor) {
				t.Errorf("%s links to %s, but %s has no heading #%s (it has %v)", file, target, dest, anchor, headingAnchors(string(doc)))
			}
		}
	}
	if checked == 0 {
		t.Error("found no relative link to check")
	}
}

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpan   = regexp.MustCompile("`[^`\n]*`")
	mdHeading  = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)
	linkInText = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// markdownLinks are the targets of the links in a Markdown text, outside
// code blocks and code spans.
func markdownLinks(text string) []string {
	var links []string
	for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(outsideFences(text), ""), -1) {
		links = append(links, m[1])
	}
	return links
}

// outsideFences is the text without its fenced code blocks.
func outsideFences(text string) string {
	var b strings.Builder
	fenced := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// headingAnchors are the anchors GitHub gives a Markdown text's headings:
// lower case, punctuation dropped, spaces as hyphens, -1, -2 … on repeats.
func headingAnchors(text string) []string {
	var anchors []string
	seen := map[string]int{}
	for _, m := range mdHeading.FindAllStringSubmatch(outsideFences(text), -1) {
		var a strings.Builder
		for _, r := range strings.ToLower(linkInText.ReplaceAllString(m[1], "$1")) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				a.WriteRune(r)
			}
		}
		anchor := a.String()
		if n := seen[anchor]; n > 0 {
			anchor = fmt.Sprintf("%s-%d", anchor, n)
		}
		seen[a.String()]++
		anchors = append(anchors, anchor)
	}
	return anchors
}

// Every test, benchmark or example the README and the guides name as
// evidence exists, so that a renamed test cannot leave a claim unbacked.
func TestDocsNameOnlyTestsThatExist(t *testing.T) {
	t.Parallel()
	defined := map[string]bool{}
	funcName := regexp.MustCompile(`(?m)^func (?:\([^)]*\) )?((?:Test|Benchmark|Example)\w+)\(`)
	err := filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range funcName.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	guides, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile(`\b(?:Test|Benchmark|Example)[A-Z]\w*`)
	count := 0
	for _, file := range append([]string{"../../README.md"}, guides...) {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range named.FindAllString(string(text), -1) {
			count++
			if !defined[name] {
				t.Errorf("%s names %s, which no test file defines", file, name)
			}
		}
	}
	if count == 0 {
		t.Error("the docs name no test")
	}
}
