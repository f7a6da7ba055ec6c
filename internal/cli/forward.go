package cli

import (
	"net/url"
	"strings"
)

// forwardURL reads where to forward events as Stripe's and Hookdeck's
// CLIs do: a URL as it is, "localhost:8080/hooks" over http, and a bare
// port ("8080", ":8080", "8080/hooks") on localhost. what names the
// setting in messages.
func forwardURL(what, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", usageError("%s: empty URL", what)
	}
	if port, rest := splitPort(strings.TrimPrefix(s, ":")); port != "" {
		s = "localhost:" + port + rest
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError("%s %q: want an http or https URL, a host:port/path (http is assumed), or a port on this machine", what, raw)
	}
	return u.String(), nil
}

// splitPort splits "8080/hooks" into "8080" and "/hooks"; port is empty
// when s does not start with a port number.
func splitPort(s string) (port, rest string) {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		i = len(s)
	}
	if i == 0 || i > 5 || (i < len(s) && s[i] != '/') {
		return "", ""
	}
	return s[:i], s[i:]
}
