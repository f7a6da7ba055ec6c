// Package source verifies the webhooks of providers other than Sent, so
// that one receiver keeps every provider's events with the same
// guarantees: stored durably before the 2xx, accepted once per source, and
// a rejected request logged with a diagnosis.
//
// A Source is one provider's rules: where its signature is, what it signs,
// with which algorithm, encoding and secrets, how far its timestamp may
// drift, which id names an event across retries, its event type and
// subject, and any handshake it asks for before it sends events. Providers
// register themselves (Register) under the name the configuration uses
// (provider: stripe); New builds one from Settings.
//
// Sent itself is not built here: it stays the receiver's zero-configuration
// default, verified by package signature.
package source

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// Source verifies one provider's requests and names their events. It is
// safe for concurrent use.
type Source interface {
	// Provider is the provider's registered name ("stripe").
	Provider() string

	// Verify checks the signature of a request whose body was read whole.
	// An error is a *signature.VerifyError wrapping one of signature's
	// ErrXxx sentinels, so that the receiver answers and counts it as it
	// does Sent's.
	Verify(req *http.Request, body []byte) (Verified, error)

	// VerifyAt is Verify judging the timestamp as of now: how a rejection
	// is verified again, as of when it arrived.
	VerifyAt(req *http.Request, body []byte, now time.Time) (Verified, error)

	// Diagnose explains a rejected request, off the request path. url is
	// the request's URL as it arrived (Twilio signs the public URL).
	Diagnose(h http.Header, url string, body []byte, now time.Time) signature.Diagnosis
}

// Handshaker is a Source whose provider checks the endpoint before it sends
// events (Slack's url_verification, Meta's hub.challenge). Handshake is
// called for every GET, and for every POST that verified, before the event
// is stored; when it answers, the request is a handshake and stores
// nothing.
type Handshaker interface {
	Handshake(req *http.Request, body []byte) (Answer, bool)
}

// Signer is a Source that can sign as its provider does, for dev tools
// and tests: the headers the provider would send with body posted to url
// at at, signed with the first secret. id names the message where the
// provider sends one (Standard Webhooks' webhook-id).
type Signer interface {
	Sign(url string, body []byte, at time.Time, id string) (http.Header, error)
}

// Answer is a handshake's reply.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Verified is what a verified request says of its event.
type Verified struct {
	// SecretIndex is the index in Settings.Secrets of the secret that
	// matched.
	SecretIndex int
	// EventID is the provider's id of the event, the same on every retry;
	// "" when the provider has none, and the body's hash is the identity.
	EventID string
	// Type is the provider's event type ("invoice.paid", "push"); "" when
	// the request says none.
	Type string
	// Subject is what the event is about, when the provider says ("" if
	// not).
	Subject string
	// Timestamp is the signed time, zero when the provider signs none.
	Timestamp time.Time
}

// Settings configure one Source.
type Settings struct {
	// Name names the source in the store. Required.
	Name string
	// Provider is a registered provider name. Required.
	Provider string
	// Secrets are the signing secrets accepted, the newest first while a
	// rotation settles. Required, but for providers that sign nothing.
	Secrets []string
	// Tolerance is how far a signed timestamp may be from now. Defaults
	// to the provider's (5 minutes for all that sign one); negative
	// disables the check.
	Tolerance time.Duration
	// NowFunc defaults to time.Now.
	NowFunc func() time.Time

	// VerifyToken is Meta's verify token, for the hub.challenge GET.
	VerifyToken string
	// PublicURL is the URL the provider posts to, as configured there:
	// Twilio signs it. Behind a proxy it differs from the request's.
	PublicURL string

	// HMAC configures the generic hmac provider.
	HMAC HMACSettings
}

// HMACSettings configure the generic hmac provider.
type HMACSettings struct {
	// Header carries the signature. Required.
	Header string
	// Algorithm is sha1, sha256 or sha512. Defaults to sha256.
	Algorithm string
	// Encoding is hex or base64. Defaults to hex.
	Encoding string
	// Prefix comes before the signature in the header ("sha256=").
	Prefix string
	// Template is the signed content: "{body}" by default, or with
	// "{timestamp}" from TimestampHeader ("{timestamp}.{body}").
	Template string
	// TimestampHeader carries Unix seconds, signed through Template and
	// checked against Tolerance.
	TimestampHeader string
	// IDHeader, when set, carries the event's id across retries.
	IDHeader string
	// TypeHeader, when set, carries the event type.
	TypeHeader string
}

// DefaultTolerance is how far a signed timestamp may drift by default.
const DefaultTolerance = 5 * time.Minute

// BuildFunc builds a provider's Source from settings whose defaults were
// applied.
type BuildFunc func(Settings) (Source, error)

var (
	mu        sync.RWMutex
	providers = map[string]BuildFunc{}
)

// Register makes a provider available to New under name. It panics when
// the name is taken, as database/sql's Register does.
func Register(name string, build BuildFunc) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := providers[name]; dup {
		panic("source: provider " + name + " registered twice")
	}
	providers[name] = build
}

// Providers lists the registered provider names, sorted.
func Providers() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(providers))
	for name := range providers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// ErrUnknownProvider is returned by New for a provider not registered.
var ErrUnknownProvider = errors.New("unknown provider")

// New builds the Source settings describe.
func New(s Settings) (Source, error) {
	mu.RLock()
	build, ok := providers[s.Provider]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("source %q: %w %q (known: %s)", s.Name, ErrUnknownProvider, s.Provider, strings.Join(Providers(), ", "))
	}
	if s.Tolerance == 0 {
		s.Tolerance = DefaultTolerance
	}
	if s.NowFunc == nil {
		s.NowFunc = time.Now
	}
	for i, sec := range s.Secrets {
		s.Secrets[i] = strings.TrimSpace(sec)
		if s.Secrets[i] == "" {
			return nil, fmt.Errorf("source %q: secrets[%d] is empty", s.Name, i)
		}
	}
	src, err := build(s)
	if err != nil {
		return nil, fmt.Errorf("source %q (%s): %w", s.Name, s.Provider, err)
	}
	return src, nil
}

// requireSecrets is the error of a provider built without secrets.
func requireSecrets(s Settings) error {
	if len(s.Secrets) == 0 {
		return errors.New("at least one secret is required")
	}
	return nil
}
