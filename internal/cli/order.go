package cli

import (
	"reflect"
	"strings"

	"github.com/hooklatch/hooklatch/store"
)

// orderParam is the URL parameter that asks any destination, whatever its
// kind, for FIFO per subject: ?order=subject.
const orderParam = "order=" + store.OrderSubject

// cutOrder removes orderParam from raw's query, before the kind reads the
// URL, and says whether it was there. It is read here, for every kind,
// and never reaches a kind: an HTTP app's own parameters, an order=asc
// among them, pass through untouched.
func cutOrder(raw string) (string, bool) {
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw, false
	}
	query, fragment, hasFragment := strings.Cut(query, "#")
	var kept []string
	found := false
	for p := range strings.SplitSeq(query, "&") {
		if p == orderParam {
			found = true
			continue
		}
		kept = append(kept, p)
	}
	if !found {
		return raw, false
	}
	out := base
	if len(kept) > 0 {
		out += "?" + strings.Join(kept, "&")
	}
	if hasFragment {
		out += "#" + fragment
	}
	return out, true
}

// cutBlockOrder cuts orderParam from the URL a kind's config block sets
// (its URL field), and says whether it was there.
func cutBlockOrder(block any) bool {
	v := reflect.ValueOf(block)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("URL")
	if !f.IsValid() || f.Kind() != reflect.String || !f.CanSet() {
		return false
	}
	rest, found := cutOrder(f.String())
	f.SetString(rest)
	return found
}

// routeOrder is the order a destination asks for, from its config entry's
// order key and its URL's parameter.
func routeOrder(key string, fromURL bool) (string, error) {
	switch key {
	case "", "none":
		if fromURL {
			return store.OrderSubject, nil
		}
		return store.OrderNone, nil
	case store.OrderSubject:
		return store.OrderSubject, nil
	}
	return "", usageError("order %q: want subject (FIFO per subject) or none", key)
}
