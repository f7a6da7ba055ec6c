// Package workerurl reads the --forward-to URLs of the worker-native
// destinations and keeps passwords in them out of messages.
package workerurl

import (
	"fmt"
	"net/url"
	"strings"
)

// Parse reads raw with its scheme replaced by broker ("amqp", "redis", …),
// and returns it without its query, and the query's parameters. A
// parameter given twice is an error.
func Parse(raw, broker string) (*url.URL, map[string]string, error) {
	_, rest, _ := strings.Cut(raw, "://")
	u, err := url.Parse(broker + "://" + rest)
	if err != nil {
		return nil, nil, fmt.Errorf("%q is not a URL: %s", Redact(raw), RedactMessage(err.Error(), raw))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("%q: the part after ? is not a query: %v", Redact(raw), err)
	}
	params := make(map[string]string, len(q))
	for key, vals := range q {
		if len(vals) != 1 {
			return nil, nil, fmt.Errorf("%q: %s is given %d times", Redact(raw), key, len(vals))
		}
		params[key] = vals[0]
	}
	u.RawQuery = ""
	return u, params, nil
}

// Redact returns raw with its password, if any, replaced by "xxxxx".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		return raw
	}
	return u.Redacted()
}

// RedactMessage removes raw's password from msg, a library's message that
// may quote it.
func RedactMessage(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return msg
	}
	if p, has := u.User.Password(); has && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}
