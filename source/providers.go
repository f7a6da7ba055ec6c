package source

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

func init() {
	Register("standard-webhooks", newStandard)
	Register("stripe", newStripe)
	Register("github", newGitHub)
	Register("hmac", newHMAC)
	Register("shopify", newShopify)
	Register("slack", newSlack)
	Register("meta", newMeta)
	Register("twilio", newTwilio)
}

// standard is Standard Webhooks (https://www.standardwebhooks.com), which
// Svix sends too: Sent's v1 scheme under the names webhook-* or svix-*,
// verified by package signature. webhook-id names the message, the same
// on every retry: it is the event's identity.
type standard struct {
	v         *signature.Verifier
	secrets   []signature.Secret
	tolerance time.Duration
}

func newStandard(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	secrets, err := signature.ParseSecrets(strings.Join(s.Secrets, ","))
	if err != nil {
		return nil, err
	}
	v, err := signature.NewVerifier(signature.Config{Secrets: secrets, Tolerance: s.Tolerance, Schemes: []signature.Scheme{signature.V1}, NowFunc: s.NowFunc})
	if err != nil {
		return nil, err
	}
	return &standard{v: v, secrets: secrets, tolerance: s.Tolerance}, nil
}

func (*standard) Provider() string { return "standard-webhooks" }

func (s *standard) Verify(req *http.Request, body []byte) (Verified, error) {
	res, err := s.v.Verify(req.Header, body)
	if err != nil {
		return Verified{}, err
	}
	f := readJSON(body)
	return Verified{SecretIndex: res.SecretIndex, EventID: res.WebhookID, Type: f.Type, Timestamp: res.Timestamp}, nil
}

// Sign signs as Standard Webhooks does, under the specification's header
// names.
func (s *standard) Sign(_ string, body []byte, at time.Time, id string) (http.Header, error) {
	sent := signature.Sign(signature.V1, s.secrets[0], body, signature.SignOptions{WebhookID: id, Timestamp: at})
	names := signature.HeaderFamilies[1]
	h := http.Header{}
	h.Set(names.ID, sent.Get(signature.HeaderID))
	h.Set(names.Timestamp, sent.Get(signature.HeaderTimestamp))
	h.Set(names.Signature, sent.Get(signature.HeaderSignature))
	return h, nil
}

func (s *standard) VerifyAt(req *http.Request, body []byte, now time.Time) (Verified, error) {
	v, err := signature.NewVerifier(signature.Config{Secrets: s.secrets, Tolerance: s.tolerance, Schemes: []signature.Scheme{signature.V1},
		NowFunc: func() time.Time { return now }})
	if err != nil {
		return Verified{}, err
	}
	return (&standard{v: v, secrets: s.secrets, tolerance: s.tolerance}).Verify(req, body)
}

func (s *standard) Diagnose(h http.Header, _ string, body []byte, now time.Time) signature.Diagnosis {
	return signature.Diagnose(h, body, s.secrets, now, s.tolerance)
}

// newStripe: Stripe-Signature "t=<unix>,v1=<hex>[,v1=…]", an HMAC-SHA256
// keyed with the whsec_ secret's text over "<t>.<body>", refused when t is
// more than 300 s old, not when it is ahead (stripe-node's Webhooks.js,
// validateComputedSignature). The event's id and type are the body's.
func newStripe(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	const header = "Stripe-Signature"
	return &mac{
		provider: "stripe", header: header, timestampHeader: "the t= timestamp of " + header, pastOnly: true, stamped: true,
		headers: func(sig, ts string) http.Header { return header1(header, "t="+ts+",v1="+sig) },
		newHash: sha256.New, keys: textKeys(s.Secrets), secrets: s.Secrets, tolerance: s.Tolerance, now: s.NowFunc,
		parse: func(h http.Header) ([]string, string, error) {
			v := h.Get(header)
			if v == "" {
				return nil, "", missing(header)
			}
			var sigs []string
			var ts string
			for _, item := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(strings.TrimSpace(item), "=")
				switch k {
				case "t":
					ts = val
				case "v1":
					sigs = append(sigs, val)
				}
			}
			switch {
			case ts == "":
				return nil, "", &signature.VerifyError{Reason: signature.ErrMissingTimestamp, Detail: header + " has no t="}
			case len(sigs) == 0:
				return nil, "", &signature.VerifyError{Reason: signature.ErrUnknownScheme, Detail: header + " has no v1= signature"}
			}
			return sigs, ts, nil
		},
		content: func(_ *http.Request, ts string, body []byte) []byte {
			return append([]byte(ts+"."), body...)
		},
		identify: func(_ http.Header, body []byte) Verified {
			var e struct {
				ID   string `json:"id"`
				Type string `json:"type"`
				Data struct {
					Object struct {
						ID string `json:"id"`
					} `json:"object"`
				} `json:"data"`
			}
			_ = json.Unmarshal(body, &e)
			return Verified{EventID: e.ID, Type: e.Type, Subject: e.Data.Object.ID}
		},
	}, nil
}

// newGitHub: X-Hub-Signature-256 "sha256=<hex>", an HMAC-SHA256 of the
// body keyed with the secret's text (@octokit/webhooks-methods). The type
// is X-GitHub-Event. The identity is the body: a redelivery carries a new
// X-GitHub-Delivery but the same body, and is a duplicate.
func newGitHub(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	const header = "X-Hub-Signature-256"
	return &mac{
		provider: "github", header: header, newHash: sha256.New, keys: textKeys(s.Secrets), secrets: s.Secrets,
		headers:   func(sig, _ string) http.Header { return header1(header, "sha256="+sig) },
		tolerance: s.Tolerance, now: s.NowFunc, parse: prefixed(header, "sha256="), content: bodyOnly,
		identify: func(h http.Header, body []byte) Verified {
			return Verified{Type: h.Get("X-GitHub-Event")}
		},
	}, nil
}

// newShopify: X-Shopify-Hmac-Sha256, the base64 of an HMAC-SHA256 of the
// body keyed with the app's client secret. The identity is
// X-Shopify-Event-Id, which Shopify's "Ignore duplicate webhooks" names as
// the duplicate check, else X-Shopify-Webhook-Id, the same on every retry;
// X-Shopify-Topic is the type. Shopify's Events webhooks name the same
// headers without X- (Shopify-Hmac-Sha256 …); @shopify/shopify-api's
// webhooks.validate takes both.
func newShopify(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	const header, eventsHeader = "X-Shopify-Hmac-Sha256", "Shopify-Hmac-Sha256"
	// first is the value of the first of names the request has.
	first := func(h http.Header, names ...string) string {
		for _, n := range names {
			if v := h.Get(n); v != "" {
				return v
			}
		}
		return ""
	}
	webhooks, events := prefixed(header, ""), prefixed(eventsHeader, "")
	return &mac{
		provider: "shopify", header: header, newHash: sha256.New, keys: textKeys(s.Secrets), secrets: s.Secrets, base64: true,
		headers:   func(sig, _ string) http.Header { return header1(header, sig) },
		tolerance: s.Tolerance, now: s.NowFunc, content: bodyOnly,
		parse: func(h http.Header) ([]string, string, error) {
			if h.Get(header) == "" && h.Get(eventsHeader) != "" {
				return events(h)
			}
			return webhooks(h)
		},
		identify: func(h http.Header, _ []byte) Verified {
			return Verified{
				EventID: first(h, "X-Shopify-Event-Id", "X-Shopify-Webhook-Id", "Shopify-Webhook-Id"),
				Type:    first(h, "X-Shopify-Topic", "Shopify-Topic"),
			}
		},
	}, nil
}

// slack: X-Slack-Signature "v0=<hex>", an HMAC-SHA256 keyed with the
// signing secret over "v0:<X-Slack-Request-Timestamp>:<body>", refused when
// the timestamp is over 5 minutes old, not when ahead (verifySlackRequest in
// @slack/bolt). The url_verification request is answered with its
// challenge.
type slack struct{ *mac }

func newSlack(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	const header, tsHeader = "X-Slack-Signature", "X-Slack-Request-Timestamp"
	sigs := prefixed(header, "v0=")
	return slack{&mac{
		provider: "slack", header: header, timestampHeader: tsHeader, pastOnly: true, stamped: true,
		headers: func(sig, ts string) http.Header {
			h := header1(header, "v0="+sig)
			h.Set(tsHeader, ts)
			return h
		}, newHash: sha256.New, keys: textKeys(s.Secrets), secrets: s.Secrets,
		tolerance: s.Tolerance, now: s.NowFunc,
		parse: func(h http.Header) ([]string, string, error) {
			v, _, err := sigs(h)
			if err != nil {
				return nil, "", err
			}
			ts := h.Get(tsHeader)
			if ts == "" {
				return nil, "", &signature.VerifyError{Reason: signature.ErrMissingTimestamp, Detail: "no " + tsHeader}
			}
			return v, ts, nil
		},
		content: func(_ *http.Request, ts string, body []byte) []byte {
			return append([]byte("v0:"+ts+":"), body...)
		},
		identify: func(_ http.Header, body []byte) Verified {
			var e struct {
				Type    string `json:"type"`
				EventID string `json:"event_id"`
				Event   struct {
					Type string `json:"type"`
				} `json:"event"`
			}
			_ = json.Unmarshal(body, &e)
			typ := e.Type
			if e.Event.Type != "" {
				typ = e.Event.Type
			}
			return Verified{EventID: e.EventID, Type: typ}
		},
	}}, nil
}

// Handshake answers Slack's url_verification with its challenge.
func (slack) Handshake(req *http.Request, body []byte) (Answer, bool) {
	if req.Method != http.MethodPost {
		return Answer{}, false
	}
	var e struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(body, &e) != nil || e.Type != "url_verification" {
		return Answer{}, false
	}
	out, _ := json.Marshal(map[string]string{"challenge": e.Challenge})
	return Answer{Status: http.StatusOK, ContentType: "application/json", Body: out}, true
}

// meta is the WhatsApp Cloud API, Messenger and Instagram:
// X-Hub-Signature-256 "sha256=<hex>" over the body keyed with the app
// secret; the endpoint is verified by a GET with hub.mode=subscribe, the
// verify token and a challenge to echo.
type meta struct {
	*mac
	verifyToken string
}

func newMeta(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	if s.VerifyToken == "" {
		return nil, errors.New("verify_token is required: Meta checks the endpoint with it before it sends events")
	}
	const header = "X-Hub-Signature-256"
	return meta{&mac{
		provider: "meta", header: header, newHash: sha256.New, keys: textKeys(s.Secrets), secrets: s.Secrets,
		headers:   func(sig, _ string) http.Header { return header1(header, "sha256="+sig) },
		tolerance: s.Tolerance, now: s.NowFunc, parse: prefixed(header, "sha256="), content: bodyOnly,
		identify: func(_ http.Header, body []byte) Verified {
			var e struct {
				Object string `json:"object"`
				Entry  []struct {
					ID      string `json:"id"`
					Changes []struct {
						Field string `json:"field"`
					} `json:"changes"`
				} `json:"entry"`
			}
			_ = json.Unmarshal(body, &e)
			typ := e.Object
			var subject string
			if len(e.Entry) > 0 {
				subject = e.Entry[0].ID
				if len(e.Entry[0].Changes) > 0 && e.Entry[0].Changes[0].Field != "" {
					typ += "." + e.Entry[0].Changes[0].Field
				}
			}
			return Verified{Type: typ, Subject: subject}
		},
	}, s.VerifyToken}, nil
}

// Handshake answers the subscription GET: the challenge when the verify
// token is right, 403 otherwise.
func (m meta) Handshake(req *http.Request, _ []byte) (Answer, bool) {
	if req.Method != http.MethodGet {
		return Answer{}, false
	}
	q := req.URL.Query()
	if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != m.verifyToken {
		return Answer{Status: http.StatusForbidden, ContentType: "application/json", Body: []byte(`{"error":"verification_failed"}`)}, true
	}
	return Answer{Status: http.StatusOK, ContentType: "text/plain; charset=utf-8", Body: []byte(q.Get("hub.challenge"))}, true
}

// newTwilio: X-Twilio-Signature, the base64 of an HMAC keyed with the auth
// token over the URL Twilio posted to followed by each form parameter,
// sorted by name, as name then value (its values deduplicated and sorted);
// the URL is checked with and without its port. The HMAC is SHA-1, or
// SHA-256 when X-Twilio-Webhooks-Signature-Settings says
// algorithm=HMAC_SHA256 (twilio's lib/webhooks/webhooks.js). The URL is
// Settings.PublicURL when set, else the request's own. A JSON body is
// signed through its hash in the URL instead (twilio.go).
func newTwilio(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	const header = "X-Twilio-Signature"
	public := s.PublicURL
	// signedURL is the URL Twilio signed: with a JSON body, with the
	// bodySHA256 it added.
	signedURL := func(req *http.Request, body []byte) string {
		u := public
		if u == "" {
			u = RequestURL(req)
		}
		if twilioJSON(req, public, body) {
			u = withBodyHash(u, req, body)
		}
		return u
	}
	// signed is what Twilio signs for a request at u.
	signed := func(req *http.Request, u string, body []byte) []byte {
		if twilioJSON(req, public, body) {
			return []byte(withBodyHash(u, req, body))
		}
		return twilioContent(u, body)
	}
	return &mac{
		provider: "twilio", header: header, newHash: sha1.New, keys: textKeys(s.Secrets), secrets: s.Secrets, base64: true,
		headers:   func(sig, _ string) http.Header { return header1(header, sig) },
		tolerance: s.Tolerance, now: s.NowFunc, parse: prefixed(header, ""), postURL: twilioPostURL,
		hashFor: func(h http.Header) (func() hash.Hash, error) {
			switch alg := twilioAlgorithm(h.Get("X-Twilio-Webhooks-Signature-Settings")); strings.ToUpper(alg) {
			case "HMAC_SHA1":
				return sha1.New, nil
			case "HMAC_SHA256":
				return sha256.New, nil
			default:
				return nil, &signature.VerifyError{Reason: signature.ErrUnknownScheme, Detail: fmt.Sprintf("Twilio signature algorithm %q", alg)}
			}
		},
		content: func(req *http.Request, _ string, body []byte) []byte {
			return signed(req, signedURL(req, body), body)
		},
		contents: func(req *http.Request, _ string, body []byte) [][]byte {
			u := signedURL(req, body)
			out := [][]byte{signed(req, removePort(u), body)}
			if with := addPort(u); with != removePort(u) {
				out = append(out, signed(req, with, body))
			}
			return out
		},
		checkBody: func(req *http.Request, body []byte) error {
			if !twilioJSON(req, public, body) {
				return nil
			}
			return checkTwilioBody(signedURL(req, body), body)
		},
		variants: func(req *http.Request, arrived, _ string, body []byte) []variant {
			u := signedURL(req, body)
			var out []variant
			for _, c := range urlCandidates(u, arrived) {
				out = append(out, variant{CauseWrongURL, fmt.Sprintf(
					"the signature matches the URL %s, not %s: Twilio signs the URL configured in its console; set "+
						"public_url to it (behind a proxy the request's own URL differs)", c, u), signed(req, c, body)})
			}
			return out
		},
		identify: func(_ http.Header, body []byte) Verified {
			if f := readJSON(body); f.Type != "" || f.ID != "" {
				return Verified{EventID: f.ID, Type: f.Type}
			}
			form, _ := url.ParseQuery(string(body))
			v := Verified{Subject: form.Get("MessageSid")}
			switch {
			case form.Get("MessageStatus") != "":
				v.Type = "message." + strings.ToLower(form.Get("MessageStatus"))
			case form.Get("CallStatus") != "":
				v.Type, v.Subject = "call."+strings.ToLower(form.Get("CallStatus")), form.Get("CallSid")
			case form.Get("Body") != "" || form.Get("NumMedia") != "":
				v.Type = "message.received"
			}
			return v
		},
	}, nil
}

// header1 is a header of one value.
func header1(name, value string) http.Header {
	h := http.Header{}
	h.Set(name, value)
	return h
}

// CauseWrongURL is the diagnosis of a Twilio signature made over another
// URL than the one checked.
const CauseWrongURL = "wrong_url"

// twilioContent is what Twilio signs: the URL, then each form parameter
// sorted by name, name then value, a repeated parameter's values
// deduplicated and sorted.
func twilioContent(u string, body []byte) []byte {
	form, _ := url.ParseQuery(string(body))
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	b := []byte(u)
	for _, k := range names {
		vals := slices.Compact(slices.Sorted(slices.Values(form[k])))
		for _, v := range vals {
			b = append(append(b, k...), v...)
		}
	}
	return b
}

// twilioAlgorithm is the algorithm= of X-Twilio-Webhooks-Signature-Settings;
// HMAC_SHA1 without one.
func twilioAlgorithm(settings string) string {
	for part := range strings.SplitSeq(settings, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.TrimSpace(k) == "algorithm" && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return "HMAC_SHA1"
}

// splitURL splits a URL's scheme and authority from the rest without
// normalising it: Twilio signs the exact characters.
func splitURL(u string) (scheme, host, port, rest string, ok bool) {
	i := strings.Index(u, "://")
	if i <= 0 {
		return "", "", "", "", false
	}
	scheme, after := u[:i+3], u[i+3:]
	end := strings.IndexAny(after, "/?#")
	if end < 0 {
		end = len(after)
	}
	authority, rest := after[:end], after[end:]
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		scheme, authority = scheme+authority[:at+1], authority[at+1:]
	}
	host = authority
	if c := strings.Index(authority[strings.LastIndex(authority, "]")+1:], ":"); c >= 0 {
		c += strings.LastIndex(authority, "]") + 1
		host, port = authority[:c], authority[c:]
	}
	return scheme, host, port, rest, true
}

func removePort(u string) string {
	scheme, host, _, rest, ok := splitURL(u)
	if !ok {
		return u
	}
	return scheme + host + rest
}

func addPort(u string) string {
	scheme, host, port, rest, ok := splitURL(u)
	if !ok || port != "" {
		return u
	}
	port = ":80"
	if strings.HasPrefix(strings.ToLower(scheme), "https://") {
		port = ":443"
	}
	return scheme + host + port + rest
}

// urlCandidates are the URLs a signer may have used instead of signed: the
// URL the request arrived at, and each with the other scheme.
func urlCandidates(signed, arrived string) []string {
	seen := map[string]bool{signed: true}
	var out []string
	for _, u := range []string{arrived, signed} {
		for _, c := range []string{u, swapScheme(u)} {
			if c != "" && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func swapScheme(u string) string {
	if rest, ok := strings.CutPrefix(u, "https://"); ok {
		return "http://" + rest
	}
	if rest, ok := strings.CutPrefix(u, "http://"); ok {
		return "https://" + rest
	}
	return ""
}

// RequestURL is the URL a request was posted to, as its sender saw it
// (through a proxy that sets X-Forwarded-Proto).
func RequestURL(req *http.Request) string {
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	if p := req.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	return scheme + "://" + host + req.URL.RequestURI()
}

// newHMAC is the generic provider: a header of one signature after an
// optional prefix, an HMAC with sha1, sha256 or sha512 in hex or base64,
// keyed with the secret's text, over the body or a template of
// "{timestamp}" and "{body}".
func newHMAC(s Settings) (Source, error) {
	if err := requireSecrets(s); err != nil {
		return nil, err
	}
	c := s.HMAC
	if c.Header == "" {
		return nil, errors.New("hmac.header is required")
	}
	var newHash func() hash.Hash
	switch strings.ToLower(c.Algorithm) {
	case "", "sha256":
		newHash = sha256.New
	case "sha1":
		newHash = sha1.New
	case "sha512":
		newHash = sha512.New
	default:
		return nil, fmt.Errorf("hmac.algorithm %q: want sha1, sha256 or sha512", c.Algorithm)
	}
	var b64 bool
	switch strings.ToLower(c.Encoding) {
	case "", "hex":
	case "base64":
		b64 = true
	default:
		return nil, fmt.Errorf("hmac.encoding %q: want hex or base64", c.Encoding)
	}
	tmpl := c.Template
	if tmpl == "" {
		tmpl = "{body}"
	}
	head, tail, ok := strings.Cut(tmpl, "{body}")
	if !ok || strings.Contains(tail, "{body}") {
		return nil, fmt.Errorf("hmac.template %q must hold {body} once", tmpl)
	}
	usesTS := strings.Contains(tmpl, "{timestamp}")
	if usesTS != (c.TimestampHeader != "") {
		return nil, errors.New("hmac.template uses {timestamp} exactly when hmac.timestamp_header is set")
	}
	header, tsHeader := http.CanonicalHeaderKey(c.Header), http.CanonicalHeaderKey(c.TimestampHeader)
	sigs := prefixed(header, c.Prefix)
	return &mac{
		provider: "hmac", header: header, timestampHeader: tsHeader, newHash: newHash, keys: textKeys(s.Secrets), secrets: s.Secrets,
		stamped: tsHeader != "",
		headers: func(sig, ts string) http.Header {
			h := header1(header, c.Prefix+sig)
			if tsHeader != "" {
				h.Set(tsHeader, ts)
			}
			return h
		},
		base64: b64, tolerance: s.Tolerance, now: s.NowFunc,
		parse: func(h http.Header) ([]string, string, error) {
			v, _, err := sigs(h)
			if err != nil || tsHeader == "" {
				return v, "", err
			}
			ts := h.Get(tsHeader)
			if ts == "" {
				return nil, "", &signature.VerifyError{Reason: signature.ErrMissingTimestamp, Detail: "no " + tsHeader}
			}
			return v, ts, nil
		},
		content: func(_ *http.Request, ts string, body []byte) []byte {
			b := []byte(strings.ReplaceAll(head, "{timestamp}", ts))
			b = append(b, body...)
			return append(b, strings.ReplaceAll(tail, "{timestamp}", ts)...)
		},
		identify: func(h http.Header, _ []byte) Verified {
			var v Verified
			if c.IDHeader != "" {
				v.EventID = h.Get(c.IDHeader)
			}
			if c.TypeHeader != "" {
				v.Type = h.Get(c.TypeHeader)
			}
			return v
		},
	}, nil
}
