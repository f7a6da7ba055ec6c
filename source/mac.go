package source

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// mac is a provider that signs with an HMAC: most of them. Each provider
// fills in where its signature is and what it covers.
type mac struct {
	provider  string
	header    string // the signature header, canonical
	newHash   func() hash.Hash
	keys      [][]byte // one per secret, in Settings.Secrets order
	secrets   []string
	base64    bool // the signature's encoding: base64, else hex
	tolerance time.Duration
	pastOnly  bool // only a timestamp older than the tolerance is refused, not one ahead
	now       func() time.Time

	// parse reads the signatures (encoded, prefix removed) and the signed
	// timestamp ("" when the provider signs none) from the request.
	parse func(h http.Header) (sigs []string, ts string, err error)
	// content is what the provider signs.
	content func(req *http.Request, ts string, body []byte) []byte
	// contents, when set, are the contents any of which the signature may
	// cover (Twilio's URL with and without its port), tried in order in
	// place of content.
	contents func(req *http.Request, ts string, body []byte) [][]byte
	// checkBody, when set, holds the body to what the matched signature
	// covers when the signed content does not hold the body itself
	// (Twilio's bodySHA256).
	checkBody func(req *http.Request, body []byte) error
	// hashFor, when set, picks the hash a request says it was signed with.
	hashFor func(h http.Header) (func() hash.Hash, error)
	// identify names the event of a verified request.
	identify func(h http.Header, body []byte) Verified
	// timestampHeader names the signed timestamp in messages.
	timestampHeader string
	// header builds the headers that carry sig (encoded) and ts ("" when
	// the provider signs no timestamp), for Sign.
	headers func(sig, ts string) http.Header
	// stamped says the provider signs a timestamp.
	stamped bool
	// postURL, when set, is the URL the provider posts body to when
	// configured with u (Twilio's, with a JSON body's bodySHA256).
	postURL func(u string, body []byte) string
	// variants, when set, are the provider's own likely mistakes: signed
	// contents to try when no secret matched, each with its finding. url is
	// the request's URL as it arrived.
	variants func(req *http.Request, url, ts string, body []byte) []variant
}

// variant is a signed content that a mistake would have made.
type variant struct {
	cause, message string
	content        []byte
}

// maxSignatures bounds the signatures of one header that are checked.
const maxSignatures = 16

func (m *mac) Provider() string { return m.provider }

func (m *mac) Verify(req *http.Request, body []byte) (Verified, error) {
	sigs, ts, err := m.parse(req.Header)
	if err != nil {
		return Verified{}, err
	}
	var at time.Time
	if ts != "" {
		if at, err = m.checkTime(ts); err != nil {
			return Verified{}, err
		}
	}
	if len(sigs) > maxSignatures {
		sigs = sigs[:maxSignatures]
	}
	decoded := make([][]byte, 0, len(sigs))
	for _, s := range sigs {
		if d, ok := m.decode(s); ok {
			decoded = append(decoded, d)
		}
	}
	if len(decoded) == 0 {
		return Verified{}, &signature.VerifyError{Reason: signature.ErrMalformed, Detail: m.header + " holds no signature in the expected encoding"}
	}
	c := m
	if m.hashFor != nil {
		h, err := m.hashFor(req.Header)
		if err != nil {
			return Verified{}, err
		}
		c = &mac{}
		*c = *m
		c.newHash = h
	}
	i, ok := c.matchAny(req, ts, body, decoded)
	if !ok {
		return Verified{}, &signature.VerifyError{Reason: signature.ErrNoMatch, Detail: fmt.Sprintf("%d %s signature(s) checked against %d secret(s)", len(decoded), m.provider, len(m.keys))}
	}
	if m.checkBody != nil {
		if err := m.checkBody(req, body); err != nil {
			return Verified{}, err
		}
	}
	v := m.identify(req.Header, body)
	v.SecretIndex, v.Timestamp = i, at
	return v, nil
}

// matchAny is match over the provider's content, or over each of its
// contents.
func (m *mac) matchAny(req *http.Request, ts string, body []byte, sigs [][]byte) (int, bool) {
	if m.contents == nil {
		return m.match(m.content(req, ts, body), sigs)
	}
	for _, c := range m.contents(req, ts, body) {
		if i, ok := m.match(c, sigs); ok {
			return i, true
		}
	}
	return -1, false
}

// Sign signs as the provider does, with the first secret.
func (m *mac) Sign(url string, body []byte, at time.Time, _ string) (http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	// The request as its sender saw it: RequestURL, which Twilio's
	// content is made of, takes an https URL's scheme from here.
	req.Header.Set("X-Forwarded-Proto", req.URL.Scheme)
	var ts string
	if m.stamped {
		ts = strconv.FormatInt(at.Unix(), 10)
	}
	h := hmac.New(m.newHash, m.keys[0])
	h.Write(m.content(req, ts, body))
	var sig string
	if m.base64 {
		sig = base64.StdEncoding.EncodeToString(h.Sum(nil))
	} else {
		sig = hex.EncodeToString(h.Sum(nil))
	}
	return m.headers(sig, ts), nil
}

// PostURL is the URL the provider posts body to when configured with u:
// u, but for Twilio's JSON bodies.
func (m *mac) PostURL(u string, body []byte) string {
	if m.postURL == nil {
		return u
	}
	return m.postURL(u, body)
}

func (m *mac) VerifyAt(req *http.Request, body []byte, now time.Time) (Verified, error) {
	c := *m
	c.now = func() time.Time { return now }
	return c.Verify(req, body)
}

// match is the index of the first key whose HMAC of content is one of
// sigs, each compared in constant time.
func (m *mac) match(content []byte, sigs [][]byte) (int, bool) {
	for i, key := range m.keys {
		h := hmac.New(m.newHash, key)
		h.Write(content)
		sum := h.Sum(nil)
		matched := false
		for _, s := range sigs {
			if hmac.Equal(sum, s) {
				matched = true
			}
		}
		if matched {
			return i, true
		}
	}
	return -1, false
}

func (m *mac) decode(s string) ([]byte, bool) {
	if m.base64 {
		d, err := base64.StdEncoding.DecodeString(s)
		return d, err == nil
	}
	d, err := hex.DecodeString(s)
	return d, err == nil
}

// checkTime parses a signed timestamp, Unix seconds, and holds it to the
// tolerance.
func (m *mac) checkTime(ts string) (time.Time, error) {
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || unix < 0 || len(ts) > 18 {
		return time.Time{}, &signature.VerifyError{Reason: signature.ErrMalformed, Detail: m.timestampHeader + " is not Unix seconds"}
	}
	at := time.Unix(unix, 0)
	if m.tolerance < 0 {
		return at, nil
	}
	now := m.now()
	switch age := now.Sub(at); {
	case age > m.tolerance:
		return at, &signature.VerifyError{Reason: signature.ErrStaleTimestamp, Detail: fmt.Sprintf("%ds old, tolerance %ds", int64(age/time.Second), int64(m.tolerance/time.Second))}
	case age < -m.tolerance && !m.pastOnly:
		return at, &signature.VerifyError{Reason: signature.ErrFutureTimestamp, Detail: fmt.Sprintf("%ds ahead, tolerance %ds", int64(-age/time.Second), int64(m.tolerance/time.Second))}
	}
	return at, nil
}

// Diagnose says why a request was refused, in the words of signature's
// causes, trying the mistakes that make an HMAC differ: a body changed on
// the way (re-serialised, a newline added or stripped), and a secret from
// elsewhere.
func (m *mac) Diagnose(h http.Header, url string, body []byte, now time.Time) signature.Diagnosis {
	c := *m
	c.now = func() time.Time { return now }
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	if url != "" {
		if r, err := http.NewRequest(http.MethodPost, url, nil); err == nil {
			req = r
		}
	}
	req.Header = h
	d := signature.Diagnosis{Scheme: signature.Scheme(m.provider)}
	_, err := c.Verify(req, body)
	if err == nil {
		d.OK = true
		return d
	}
	if be := (*bodyHashError)(nil); errors.As(err, &be) {
		d.Findings = be.findings(body)
		return d
	}
	d.Findings = append(d.Findings, c.finding(err, h, now))
	if errors.Is(err, signature.ErrNoMatch) {
		d.Findings = c.noMatch(req, url, body, d.Findings)
	}
	return d
}

func (m *mac) finding(err error, h http.Header, now time.Time) signature.Finding {
	detail := err.Error()
	switch {
	case errors.Is(err, signature.ErrMissingSignature):
		return signature.Finding{Cause: signature.CauseMissingSignature, Message: fmt.Sprintf(
			"no %s header: the request did not come from %s, or a proxy dropped the header", m.header, m.provider)}
	case errors.Is(err, signature.ErrMissingTimestamp):
		return signature.Finding{Cause: signature.CauseMissingTimestamp, Message: fmt.Sprintf(
			"no %s: %s signs it with the body, and the signature cannot be checked without it", m.timestampHeader, m.provider)}
	case errors.Is(err, signature.ErrStaleTimestamp):
		return signature.Finding{Cause: signature.CauseStaleTimestamp, Message: fmt.Sprintf(
			"%s is stale (%s): the request was held or replayed, or this host's clock is ahead of the sender's — check NTP",
			m.timestampHeader, detail)}
	case errors.Is(err, signature.ErrFutureTimestamp):
		return signature.Finding{Cause: signature.CauseFutureTimestamp, Message: fmt.Sprintf(
			"%s is in the future (%s): the sender's clock is ahead of this host's — check NTP", m.timestampHeader, detail)}
	case errors.Is(err, signature.ErrNoMatch):
		return signature.Finding{Cause: signature.CauseNoSecretMatched, Message: fmt.Sprintf(
			"no configured secret matched (tried %s): the body was changed on the way (a proxy or framework re-serialised "+
				"or re-encoded it), or the secret is another endpoint's or environment's (test/live)", fingerprints(m.secrets))}
	}
	return signature.Finding{Cause: signature.CauseMalformedSignature, Message: detail}
}

// noMatch tries the usual changes to the body; one that makes the
// signature match replaces the general finding.
func (m *mac) noMatch(req *http.Request, url string, body []byte, fs []signature.Finding) []signature.Finding {
	sigs, ts, err := m.parse(req.Header)
	if err != nil {
		return fs
	}
	var decoded [][]byte
	for _, s := range sigs {
		if d, ok := m.decode(s); ok {
			decoded = append(decoded, d)
		}
	}
	for _, r := range rewrites(body) {
		if _, ok := m.match(m.content(req, ts, r.body), decoded); ok {
			return []signature.Finding{{Cause: r.cause, Message: "the signature matches the body " + r.what}}
		}
	}
	if m.variants != nil {
		for _, v := range m.variants(req, url, ts, body) {
			if _, ok := m.match(v.content, decoded); ok {
				return []signature.Finding{{Cause: v.cause, Message: v.message}}
			}
		}
	}
	return fs
}

// rewrite is a body as a usual change on the way would have left it.
type rewrite struct {
	cause, what string // what: "without its final newline: …"
	body        []byte
}

// rewrites are the bodies that the usual changes on the way (a final
// newline added or stripped, JSON re-serialised with white space) would
// have made from the one signed, if body is what they made of it.
func rewrites(body []byte) []rewrite {
	rs := []rewrite{
		{signature.CauseTrailingNewline, "without its final newline: something added one on the way", bytes.TrimSuffix(body, []byte("\n"))},
		{signature.CauseTrailingNewline, "with a final newline: something stripped it on the way", append(bytes.Clone(body), '\n')},
	}
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		rs = append(rs, rewrite{signature.CauseBodyReformatted, "without its white space: it was re-serialised on the way", compact.Bytes()})
	}
	out := rs[:0]
	for _, r := range rs {
		if !bytes.Equal(r.body, body) {
			out = append(out, r)
		}
	}
	return out
}

// fingerprints names secrets without showing them: the first 8 hex digits
// of each one's SHA-256, as signature.Secret prints them.
func fingerprints(secrets []string) string {
	fps := make([]string, len(secrets))
	for i, s := range secrets {
		sum := sha256.Sum256([]byte(s))
		fps[i] = fmt.Sprintf("secrets[%d] (fp %s)", i, hex.EncodeToString(sum[:4]))
	}
	return strings.Join(fps, ", ")
}

// missing is the error of a request without the signature header.
func missing(header string) error {
	return &signature.VerifyError{Reason: signature.ErrMissingSignature, Detail: "no " + header + " header"}
}

// textKeys are the secrets' texts as HMAC keys: how most providers key.
func textKeys(secrets []string) [][]byte {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	return keys
}

// bodyOnly signs the raw body.
func bodyOnly(_ *http.Request, _ string, body []byte) []byte { return body }

// prefixed reads a header of one signature after a fixed prefix.
func prefixed(header, prefix string) func(h http.Header) ([]string, string, error) {
	return func(h http.Header) ([]string, string, error) {
		v := h.Values(header)
		if len(v) == 0 || v[0] == "" {
			return nil, "", missing(header)
		}
		var sigs []string
		for _, s := range v {
			s = strings.TrimSpace(s)
			if rest, ok := strings.CutPrefix(s, prefix); ok {
				sigs = append(sigs, rest)
			}
		}
		if len(sigs) == 0 {
			return nil, "", &signature.VerifyError{Reason: signature.ErrUnknownScheme, Detail: fmt.Sprintf("%s does not start with %q", header, prefix)}
		}
		return sigs, "", nil
	}
}

// jsonFields reads a few top-level string fields of a JSON body; a body
// that is not a JSON object gives none.
type jsonFields struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	EventID string `json:"event_id"`
	Object  string `json:"object"`
}

func readJSON(body []byte) jsonFields {
	var f jsonFields
	_ = json.Unmarshal(body, &f)
	return f
}
