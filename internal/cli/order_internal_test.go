package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/destination/redisdest"
	"github.com/hooklatch/hooklatch/store"
)

// ?order=subject is read from any kind's URL and removed before the kind
// sees it; the rest of the URL, an app's own order= included, is left as
// it was.
func TestOrderParameterIsCutFromAnyURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]struct {
		rest    string
		ordered bool
	}{
		"http://127.0.0.1:8080/hooks?order=subject":              {"http://127.0.0.1:8080/hooks", true},
		"http://127.0.0.1:8080/hooks?a=1&order=subject&b=2#frag": {"http://127.0.0.1:8080/hooks?a=1&b=2#frag", true},
		"http://127.0.0.1:8080/hooks?order=asc":                  {"http://127.0.0.1:8080/hooks?order=asc", false},
		"redis://127.0.0.1:6379/0?stream=s&order=subject":        {"redis://127.0.0.1:6379/0?stream=s", true},
		"http://127.0.0.1:8080/hooks":                            {"http://127.0.0.1:8080/hooks", false},
	} {
		rest, ordered := cutOrder(in)
		if rest != want.rest || ordered != want.ordered {
			t.Errorf("cutOrder(%q) = %q, %v; want %q, %v", in, rest, ordered, want.rest, want.ordered)
		}
	}
	// A broker kind refuses parameters it does not know: it never sees
	// this one.
	route, err := forwardRoute("redis://127.0.0.1:6379/0?stream=s&order=subject", "", "v1", "", 5*time.Second)
	if err != nil || route.Order != store.OrderSubject {
		t.Errorf("--forward-to redis…&order=subject: %+v, %v; want ordered by subject", route.Order, err)
	}
	if route, err := forwardRoute("http://127.0.0.1:1/", "", "v1", "", 5*time.Second); err != nil || route.Order != store.OrderNone {
		t.Errorf("--forward-to without order: %q, %v; want unordered", route.Order, err)
	}
}

// A config file entry asks with order: subject, or with the parameter in
// its block's URL; another value is an error naming the entry.
func TestConfigFileOrder(t *testing.T) {
	t.Parallel()
	entry := func(order, url string) *ConfigFile {
		return &ConfigFile{Destinations: []DestinationConfig{{Name: "app", Order: order,
			Blocks: []KindBlock{{Kind: httpdest.Kind, Block: &httpdest.Block{URL: url}}}}}}
	}
	for _, tc := range []struct {
		file *ConfigFile
		want string
	}{
		{entry("subject", "http://127.0.0.1:1/"), store.OrderSubject},
		{entry("", "http://127.0.0.1:1/?order=subject"), store.OrderSubject},
		{entry("none", "http://127.0.0.1:1/"), store.OrderNone},
		{&ConfigFile{Destinations: []DestinationConfig{{Name: "q", Blocks: []KindBlock{{Kind: redisdest.Kind,
			Block: &redisdest.Block{URL: "redis://127.0.0.1:6379/0?order=subject", Stream: "s"}}}}}}, store.OrderSubject},
	} {
		routes, err := tc.file.routes(nil)
		if err != nil || routes[0].Order != tc.want {
			t.Errorf("%+v: order %q, %v; want %q", tc.file.Destinations[0], routes[0].Order, err, tc.want)
		}
	}
	if _, err := entry("fifo", "http://127.0.0.1:1/").routes(nil); err == nil || !strings.Contains(err.Error(), `destinations[0] (app): order "fifo"`) {
		t.Errorf("order: fifo: %v", err)
	}
}
