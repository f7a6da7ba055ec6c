package destination_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
)

// kind is a complete Kind of that name and those schemes.
func kind(name string, schemes ...string) destination.Kind {
	build := func(string, destination.Settings) (destination.Destination, error) {
		return destination.Func(func(context.Context, *destination.Delivery) error { return nil }), nil
	}
	return destination.Kind{
		Name: name, Summary: "a test kind", Schemes: schemes, Example: name + "://x",
		Block:   func() any { return new(destination.URLBlock) },
		New:     func(b any, s destination.Settings) (destination.Destination, error) { return build("", s) },
		FromURL: build,
	}
}

// A registry refuses kinds that would make a URL or a config block
// ambiguous, or that cannot be built.
func TestNewRegistryRefusesAmbiguousKinds(t *testing.T) {
	t.Parallel()
	fallback := func(k destination.Kind) destination.Kind { k.Fallback = true; return k }
	noNew := kind("c")
	noNew.New = nil
	noExample := kind("d", "d")
	noExample.Example = ""
	for _, c := range []struct {
		name  string
		kinds []destination.Kind
		want  string
	}{
		{"same name", []destination.Kind{kind("a"), kind("a")}, `both named "a"`},
		{"same scheme", []destination.Kind{kind("a", "x"), kind("b", "y", "x")}, "a and b both claim the scheme x://"},
		{"two fallbacks", []destination.Kind{fallback(kind("a", "a")), fallback(kind("b", "b"))}, "a and b are both the fallback"},
		{"no constructor", []destination.Kind{noNew}, "Summary, Block and New are required"},
		{"URLs without an example", []destination.Kind{noExample}, "needs FromURL and Example"},
		{"upper-case name", []destination.Kind{kind("Redis")}, "lower-case Name"},
		{"upper-case scheme", []destination.Kind{kind("a", "A")}, `scheme "A": want lower case`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := destination.NewRegistry(c.kinds...); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewRegistry: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// A URL is its scheme's kind, whatever the scheme's case; any other URL,
// or text with no scheme, is the fallback's.
func TestRegistryForURL(t *testing.T) {
	t.Parallel()
	web := kind("web", "web", "webs")
	web.Fallback = true
	r, err := destination.NewRegistry(web, kind("queue", "queue", "queue+tls"))
	if err != nil {
		t.Fatal(err)
	}
	for raw, want := range map[string]string{
		"queue://h/q": "queue", "QUEUE+TLS://h": "queue", " queue://h": "queue",
		"webs://h": "web", "ftp://h": "web", "localhost:8080/x": "web", "8080": "web",
	} {
		if k, ok := r.ForURL(raw); !ok || k.Name != want {
			t.Errorf("ForURL(%q) = %s, %t; want %s", raw, k.Name, ok, want)
		}
	}
	if k, ok := destination.MustRegistry(kind("queue", "queue")).ForURL("web://h"); ok {
		t.Errorf("ForURL with no fallback = %s; want none", k.Name)
	}
	if k, ok := r.Lookup("queue"); !ok || k.Name != "queue" {
		t.Errorf("Lookup(queue) = %s, %t", k.Name, ok)
	}
	if names := []string{r.Kinds()[0].Name, r.Kinds()[1].Name}; names[0] != "web" || names[1] != "queue" {
		t.Errorf("Kinds() in the order %v, want the order given", names)
	}
}
