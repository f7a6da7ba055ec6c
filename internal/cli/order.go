package cli

import (
	"net/url"
	"reflect"
	"strings"

	"github.com/hooklatch/hooklatch/store"
)

// orderParam is the URL parameter that asks any destination, whatever its
// kind, for FIFO per subject: ?order=subject.
const orderParam = "order=" + store.OrderSubject

// destParams are what any kind's URL may ask of hooklatch itself rather
// than of the kind: ?order=subject, ?rate=50/s, ?concurrency=4. They are
// read here, for every kind, and never reach a kind: an HTTP app's own
// parameters, an order=asc among them, pass through untouched.
type destParams struct {
	ordered     bool   // order=subject
	rate        string // rate=50/s, as written
	concurrency string // concurrency=4, as written
}

// cutOrder removes orderParam from raw's query, before the kind reads the
// URL, and says whether it was there.
func cutOrder(raw string) (string, bool) {
	rest, p := cutParams(raw)
	return rest, p.ordered
}

// cutParams removes hooklatch's own parameters (destParams) from raw's
// query, before the kind reads the URL, and returns them.
func cutParams(raw string) (string, destParams) {
	var p destParams
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw, p
	}
	query, fragment, hasFragment := strings.Cut(query, "#")
	var kept []string
	found := false
	for q := range strings.SplitSeq(query, "&") {
		key, value, _ := strings.Cut(q, "=")
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		switch {
		case q == orderParam:
			p.ordered = true
		case key == "rate":
			p.rate = value
		case key == "concurrency":
			p.concurrency = value
		default:
			kept = append(kept, q)
			continue
		}
		found = true
	}
	if !found {
		return raw, p
	}
	out := base
	if len(kept) > 0 {
		out += "?" + strings.Join(kept, "&")
	}
	if hasFragment {
		out += "#" + fragment
	}
	return out, p
}

// cutBlockParams cuts hooklatch's own parameters from the URL a kind's
// config block sets (its URL field), and returns them.
func cutBlockParams(block any) destParams {
	v := reflect.ValueOf(block)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return destParams{}
	}
	f := v.Elem().FieldByName("URL")
	if !f.IsValid() || f.Kind() != reflect.String || !f.CanSet() {
		return destParams{}
	}
	rest, p := cutParams(f.String())
	f.SetString(rest)
	return p
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
