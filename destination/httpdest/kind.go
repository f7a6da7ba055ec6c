package httpdest

import (
	"errors"
	"net/url"
	"strings"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/signature"
)

// Kind describes the http destination to the front ends: any URL no other
// kind claims is its, read by ExpandURL.
var Kind = destination.Kind{
	Name:     "http",
	Summary:  "your app: a POST of the raw body, signed when given a secret",
	Schemes:  []string{"http", "https"},
	Example:  "https://app.example/hooks",
	Fallback: true,
	Signs:    true,
	Params:   map[string]string{"URL": ""},
	Block:    func() any { return new(Block) },
	New: func(b any, s destination.Settings) (destination.Destination, error) {
		block := b.(*Block)
		u, err := ExpandURL(block.URL)
		if err != nil {
			return nil, err
		}
		cfg := Config{URL: u, Headers: block.Headers, Timeout: s.Timeout, Scheme: signature.Scheme(block.Scheme)}
		if strings.TrimSpace(block.Secret) != "" {
			if cfg.Secrets, err = signature.ParseSecretList(block.Secret); err != nil {
				return nil, configError("Secret", "%s", strings.TrimPrefix(err.Error(), signature.ErrInvalidSecret.Error()+": "))
			}
		}
		return destination.Built(New(cfg))
	},
	FromURL: func(raw string, s destination.Settings) (destination.Destination, error) {
		u, err := ExpandURL(raw)
		if err != nil {
			return nil, err
		}
		return destination.Built(New(Config{URL: u, Timeout: s.Timeout, Secrets: s.Secrets, Scheme: s.Scheme}))
	},
}

// Block is the http: block of a config file.
type Block struct {
	URL     string            `yaml:"url"`
	Secret  string            `yaml:"secret"` // one, or several separated by spaces or commas while the app rotates
	Scheme  string            `yaml:"scheme"` // v1 (default), legacy or as-received
	Headers map[string]string `yaml:"headers"`
}

// ExpandURL reads where to deliver as Stripe's and Hookdeck's CLIs do: a
// URL as it is, "localhost:8080/hooks" over http, and a bare port ("8080",
// ":8080", "8080/hooks") on localhost. Its error is a
// *destination.ConfigError about the URL.
func ExpandURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", configError("URL", "empty URL")
	}
	if port, rest := splitPort(strings.TrimPrefix(s, ":")); port != "" {
		s = "localhost:" + port + rest
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &destination.ConfigError{Package: "httpdest", Field: "URL", Value: raw,
			Err: errors.New("want an http or https URL, a host:port/path (http is assumed), or a port on this machine")}
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

// Describe implements destination.Describer: where it delivers, without
// secrets.
func (d *Destination) Describe() (kind, target string) {
	return Kind.Name, destination.RedactURL(d.display)
}
