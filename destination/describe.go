package destination

import (
	"net/url"
	"reflect"
	"strings"
)

// Describer is a Destination that says where it delivers, for the
// start-up line and the docs of a running server: the name of its Kind
// ("http") and its target (a URL, with a stream or a queue) without
// secrets. The kinds of this module implement it.
type Describer interface {
	Describe() (kind, target string)
}

// Describe returns what d says of itself when it is a Describer. Else the
// kind is guessed from d's package (httpdest: "http") and the target is
// empty.
func Describe(d Destination) (kind, target string) {
	if ds, ok := d.(Describer); ok {
		return ds.Describe()
	}
	t := reflect.TypeOf(d)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.PkgPath() == "" {
		return "custom", ""
	}
	pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
	if pkg == "destination" {
		return "custom", ""
	}
	return strings.TrimSuffix(pkg, "dest"), ""
}

// RedactURL returns raw with what may be a secret replaced by "xxxxx": the
// password of its user info, and the value of each query parameter whose
// name speaks of a password, secret, token, key, signature or credential
// (?token=…, ?api_key=…, ?sig=…). Text that is not a URL comes back as it
// is; a URL that cannot be parsed comes back as its scheme alone, since
// its secret cannot be found.
func RedactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://(a URL that cannot be parsed)"
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			name, _, hasValue := strings.Cut(p, "=")
			if n, err := url.QueryUnescape(name); err == nil && hasValue && secretParam(n) {
				parts[i] = name + "=xxxxx"
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.Redacted()
}

// secretWords are what a query parameter's name holds when its value may
// be a secret.
var secretWords = []string{"pass", "secret", "token", "key", "sig", "auth", "credential", "session"}

func secretParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
