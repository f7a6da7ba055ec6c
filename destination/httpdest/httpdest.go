package httpdest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/signature"
)

// Headers hooklatch sets on every forwarded event.
const (
	HeaderEventID    = "Hooklatch-Event-Id"
	HeaderDeliveryID = "Hooklatch-Delivery-Id"
	HeaderAttempt    = "Hooklatch-Attempt"
	HeaderEventType  = "Hooklatch-Event-Type"
	// HeaderStale is "true" when a later state of the event's subject had
	// already been received when the delivery was claimed, else "false"
	// (always "false" for an event with no subject): an app that applies
	// statuses drops a stale one.
	HeaderStale = "Hooklatch-Stale"
	// HeaderSubjectStatus is the status of the subject's latest state when
	// the delivery was claimed; absent, like Hooklatch-Event-Type, when
	// the event has no subject.
	HeaderSubjectStatus = "Hooklatch-Subject-Status"
	// HeaderSource names the source the event came in on: "sent" by
	// default, else a configured source's name (such as payments).
	HeaderSource = "Hooklatch-Source"
)

// Standard Webhooks names of hooklatch's own signature, sent alongside
// signature.HeaderID, signature.HeaderTimestamp and signature.HeaderSignature
// with the same values.
const (
	HeaderStandardID        = "Webhook-Id"
	HeaderStandardTimestamp = "Webhook-Timestamp"
	HeaderStandardSignature = "Webhook-Signature"
)

// SentHeaderPrefix starts the names Sent's own headers are forwarded under:
// the stored x-webhook-signature goes out as X-Sent-Webhook-Signature, so it
// cannot be mistaken for hooklatch's signature.
const SentHeaderPrefix = "X-Sent-"

// forwarded lists the stored Sent headers and the names they go out under.
var forwarded = [...]struct{ stored, name string }{
	{"x-webhook-id", "X-Sent-Webhook-Id"},
	{"x-webhook-timestamp", "X-Sent-Webhook-Timestamp"},
	{"x-webhook-signature", "X-Sent-Webhook-Signature"},
	{"x-webhook-event-id", "X-Sent-Webhook-Event-Id"},
	{"x-webhook-event-type", "X-Sent-Webhook-Event-Type"},
}

const (
	defaultTimeout          = 10 * time.Second
	defaultMaxResponseBytes = 1024
	defaultContentType      = "application/json"
	userAgent               = "hooklatch"

	// maxDrain is how much of a response beyond the snippet is read and
	// thrown away so the connection can carry the next request. A longer
	// body costs the connection instead.
	maxDrain = 256 << 10

	// maxRetryAfter caps the delay a Retry-After header can ask for.
	maxRetryAfter = 24 * time.Hour
)

// Config configures a Destination.
type Config struct {
	// URL is where events are POSTed: an absolute http or https URL. User
	// info in it is sent as basic authentication and never printed.
	//
	// Required.
	URL string

	// Secret signs forwarded events with hooklatch's own signature, so the
	// receiving app can check they came from hooklatch. The zero value sends
	// them unsigned.
	Secret signature.Secret

	// Secrets are more secrets to sign with after Secret, for an app that
	// rotates its own: a v1 request carries one signature a secret, space-
	// separated; a legacy one is signed with the first secret alone.
	Secrets []signature.Secret

	// Scheme is how Secret signs: signature.V1 (X-Webhook-Id, a fresh
	// X-Webhook-Timestamp and "v1,<base64>", plus the same in Webhook-*),
	// signature.Legacy ("sha256=<hex>" over the body, as Sent's older
	// endpoints and its development guide's handlers expect), or
	// SchemeAsReceived: each event as it arrived.
	//
	// Defaults to signature.V1.
	Scheme signature.Scheme

	// Timeout bounds each attempt: connecting, sending the event and
	// reading the answer. The attempt's context can end it sooner.
	//
	// Defaults to 10s.
	Timeout time.Duration

	// Client sends the requests. Whatever its CheckRedirect, redirects are
	// never followed.
	//
	// Defaults to a transport shared by every Destination, which keeps up
	// to 256 idle connections per host and takes proxies from the
	// environment.
	Client *http.Client

	// Headers are extra static headers, such as Authorization. Names
	// hooklatch sets itself (Content-Type, Hooklatch-*, X-Sent-*,
	// X-Webhook-*, Webhook-*) and transport headers (Host, Content-Length,
	// Transfer-Encoding, Connection) are refused.
	Headers map[string]string

	// MaxResponseBytes bounds the snippet of each answer kept in the
	// attempt's record.
	//
	// Defaults to 1024.
	MaxResponseBytes int

	// NowFunc returns the current time, for the signature's timestamp and
	// Retry-After dates.
	//
	// Defaults to time.Now.
	NowFunc func() time.Time

	// Signer, when set, signs every attempt as another provider does, in
	// place of Secret and Scheme (a source.Signer does: Stripe's, GitHub's,
	// Slack's…), afresh each time, with the event's id as the message id
	// and URL as the URL signed. The headers the provider sent beside its
	// signature and that were stored with the event (X-GitHub-Event,
	// X-Shopify-Topic…) go out under their own names, so that an app
	// written for that provider reads them where it expects them.
	//
	// Defaults to none: hooklatch's own signature.
	Signer Signer
}

// Signer signs a body as a provider does: the headers that provider would
// send with body posted to url at at, with id as its message id.
type Signer interface {
	Sign(url string, body []byte, at time.Time, id string) (http.Header, error)
}

// URLSigner is a Signer whose provider signs part of a request in its URL
// (a source.URLSigner: Twilio posts a JSON body with its bodySHA256 in the
// URL): each attempt goes to PostURL of the destination's URL, signed
// there.
type URLSigner interface {
	PostURL(url string, body []byte) string
}

// SchemeAsReceived signs each event in the scheme it arrived with (its
// store.Event.Scheme), so an app written for either of Sent's schemes
// verifies what it would have got from Sent.
const SchemeAsReceived signature.Scheme = "as-received"

// Destination POSTs events to a URL. It is safe for concurrent use.
type Destination struct {
	url      string // without user info, for requests
	display  string // password redacted, for messages
	do       func(*http.Request) (*http.Response, error)
	keys     [][]byte // v1 HMAC keys, one a secret; none when unsigned
	legacy   []byte   // legacy HMAC key of the first secret; nil when unsigned
	scheme   signature.Scheme
	timeout  time.Duration
	header   http.Header // the static headers
	maxResp  int
	bufs     sync.Pool // *[]byte of maxResp, for reading snippets
	now      func() time.Time
	deadline *timeoutError // the cause of an attempt's own timeout
	signer   Signer
}

var _ destination.Destination = (*Destination)(nil)

// New validates cfg, applies its defaults and returns a Destination.
func New(cfg Config) (*Destination, error) {
	u, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	}
	if cfg.MaxResponseBytes < 0 {
		return nil, configError("MaxResponseBytes", "negative (%d)", cfg.MaxResponseBytes)
	}
	header, err := staticHeader(cfg.Headers)
	if err != nil {
		return nil, err
	}

	if u.User != nil && header.Get("Authorization") == "" {
		// Sent as basic authentication, as http.Client would.
		pass, _ := u.User.Password()
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass)))
	}
	display := destination.RedactURL(u.String()) // neither password nor ?token=… in messages and logs
	u.User = nil

	d := &Destination{
		url:     u.String(),
		display: display,
		// Without a client of the caller's, requests go straight to the
		// shared transport: no redirects to follow, no cookies, so nothing
		// for an http.Client to add.
		do:      sharedTransport().RoundTrip,
		timeout: cmp.Or(cfg.Timeout, defaultTimeout),
		header:  header,
		maxResp: cmp.Or(cfg.MaxResponseBytes, defaultMaxResponseBytes),
		now:     cfg.NowFunc,
	}
	if cfg.Client != nil {
		c := *cfg.Client
		c.CheckRedirect = noRedirect
		d.do = c.Do
	}
	d.bufs.New = func() any { b := make([]byte, d.maxResp); return &b }
	switch cfg.Scheme {
	case "", signature.V1, signature.Legacy, SchemeAsReceived:
		d.scheme = cmp.Or(cfg.Scheme, signature.V1)
	default:
		return nil, configError("Scheme", "%q: want %s, %s or %s", cfg.Scheme, signature.V1, signature.Legacy, SchemeAsReceived)
	}
	for _, s := range append([]signature.Secret{cfg.Secret}, cfg.Secrets...) {
		if s.Fingerprint() == "" {
			continue // the zero Secret: none
		}
		if d.legacy == nil {
			d.legacy = s.LegacyKey()
		}
		d.keys = append(d.keys, s.V1Key())
	}
	if d.now == nil {
		d.now = time.Now
	}
	d.signer = cfg.Signer
	d.deadline = &timeoutError{d.timeout}
	return d, nil
}

// TraceTarget implements destination.Traced: each attempt is an HTTP
// CLIENT span for a POST to the URL, named without its query.
func (d *Destination) TraceTarget() destination.Target {
	t := destination.Target{Method: http.MethodPost, URL: d.url}
	if u, err := url.Parse(d.url); err == nil {
		u.RawQuery, u.ForceQuery, u.Fragment = "", false, ""
		t.URL = u.String()
		t.ServerAddress = u.Hostname()
		t.ServerPort, _ = strconv.Atoi(u.Port())
		if t.ServerPort == 0 {
			t.ServerPort = map[string]int{"http": 80, "https": 443}[u.Scheme]
		}
	}
	return t
}

// Deliver POSTs the event's raw body and classifies the answer: 2xx
// succeeds; 408, 429, 5xx, timeouts and connection errors are temporary
// (429 and 503 honour Retry-After); 3xx and other 4xx are permanent.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	if dl == nil || dl.Event == nil {
		return destination.Permanent(errors.New("httpdest: delivery without an event"))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, d.deadline)
	defer cancel()

	to := d.url
	if u, ok := d.signer.(URLSigner); ok {
		to = u.PostURL(to, dl.Event.Body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(dl.Event.Body))
	if err != nil {
		return destination.Permanent(fmt.Errorf("POST %s: %w", d.display, err))
	}
	req.Header = d.requestHeader(dl)
	if d.signer != nil {
		if err := d.signAsProvider(req.Header, to, dl.Event.ID, dl.Event.Headers, dl.Event.Body); err != nil {
			return destination.Permanent(fmt.Errorf("POST %s: signing: %w", d.display, err))
		}
	}

	resp, err := d.do(req)
	if err != nil {
		return d.requestError(ctx, err)
	}
	buf := d.bufs.Get().(*[]byte)
	snippet := readSnippet(resp.Body, *buf)
	d.bufs.Put(buf)
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()

	return destination.WithResult(d.judge(resp, snippet), destination.Result{StatusCode: resp.StatusCode, Response: snippet})
}

// requestHeader builds the headers of one attempt.
func (d *Destination) requestHeader(dl *destination.Delivery) http.Header {
	ev := dl.Event
	h := make(http.Header, len(d.header)+16)
	vals := make(headerValues, 0, 18)     // one allocation for the values
	h["User-Agent"] = vals.add(userAgent) // Config.Headers may replace it
	for k, v := range d.header {
		h[k] = v
	}
	ct := ev.Headers["content-type"]
	if ct == "" {
		ct = defaultContentType
	}
	h["Content-Type"] = vals.add(ct)
	for _, f := range forwarded {
		if v := ev.Headers[f.stored]; v != "" {
			h[f.name] = vals.add(v)
		}
	}
	h[HeaderEventID] = vals.add(ev.ID)
	h[HeaderDeliveryID] = vals.add(strconv.FormatInt(dl.ID, 10))
	h[HeaderAttempt] = vals.add(strconv.Itoa(dl.Attempt))
	if ev.Type != "" {
		h[HeaderEventType] = vals.add(ev.Type)
	}
	h[HeaderStale] = vals.add(strconv.FormatBool(dl.Stale))
	if dl.SubjectStatus != "" {
		h[HeaderSubjectStatus] = vals.add(dl.SubjectStatus)
	}
	if ev.Source != "" {
		h[HeaderSource] = vals.add(ev.Source)
	}
	if dl.TraceParent != "" {
		h["Traceparent"] = vals.add(dl.TraceParent)
	}
	scheme := d.scheme
	if scheme == SchemeAsReceived {
		scheme = signature.Scheme(ev.Scheme)
	}
	switch {
	case d.keys == nil:
	case scheme == signature.Legacy:
		h[signature.HeaderSignature] = vals.add(signature.SignLegacy(d.legacy, ev.Body))
	default:
		// The event ID is the webhook ID: stable across attempts, so the
		// receiving app can deduplicate on it.
		unix := d.now().Unix()
		id, ts, sig := vals.add(ev.ID), vals.add(strconv.FormatInt(unix, 10)), vals.add(d.signV1(ev.ID, unix, ev.Body))
		h[signature.HeaderID], h[signature.HeaderTimestamp], h[signature.HeaderSignature] = id, ts, sig
		h[HeaderStandardID], h[HeaderStandardTimestamp], h[HeaderStandardSignature] = id, ts, sig
	}
	return h
}

// notForwarded are stored request headers that never go out with a
// provider's event: the transport's and the proxies' on the way in.
var notForwarded = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"te": true, "upgrade": true, "accept-encoding": true, "user-agent": true, "forwarded": true,
	"proxy-connection": true, "via": true,
}

// signAsProvider sets the provider's stored headers and its signature on
// h, which holds hooklatch's own: those win over a stored header of the
// same name. No stored signature goes out.
func (d *Destination) signAsProvider(h http.Header, url, id string, stored map[string]string, body []byte) error {
	for name, v := range stored {
		if notForwarded[name] || strings.HasPrefix(name, "x-forwarded-") || strings.HasPrefix(name, "proxy-") || strings.HasPrefix(name, "x-real-") {
			continue
		}
		if strings.Contains(name, "signature") || strings.Contains(name, "hmac") {
			// Made with the receiving secret over the first attempt (GitHub's
			// SHA-1 X-Hub-Signature beside X-Hub-Signature-256): only the
			// Signer's go out.
			continue
		}
		canon := http.CanonicalHeaderKey(name)
		if _, own := h[canon]; !own {
			h[canon] = []string{v}
		}
	}
	signed, err := d.signer.Sign(url, body, d.now(), id)
	if err != nil {
		return err
	}
	for k, v := range signed {
		h[k] = v
	}
	return nil
}

// signV1 is the v1 signature header of a request: one signature a secret,
// space-separated.
func (d *Destination) signV1(id string, unix int64, body []byte) string {
	sig := signature.SignV1(d.keys[0], id, unix, body)
	for _, k := range d.keys[1:] {
		sig += " " + signature.SignV1(k, id, unix, body)
	}
	return sig
}

// headerValues hands out one-element header values from a shared array.
type headerValues []string

func (a *headerValues) add(v string) []string {
	*a = append(*a, v)
	n := len(*a)
	return (*a)[n-1 : n : n]
}

// judge turns an answer into the error Deliver returns: the one table of
// HTTP statuses.
func (d *Destination) judge(resp *http.Response, snippet string) error {
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return nil
	case code >= 300 && code < 400:
		where := ""
		if loc := resp.Header.Get("Location"); loc != "" {
			where = " (to " + clip(loc, 256) + ")"
		}
		return destination.Permanent(fmt.Errorf(
			"POST %s answered %s%s: redirects are not followed; point the destination at the endpoint's current URL",
			d.display, status(resp), where))
	}

	err := fmt.Errorf("POST %s answered %s", d.display, status(resp))
	if s := strings.TrimSpace(snippet); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		if after, ok := parseRetryAfter(resp.Header.Get("Retry-After"), d.now()); ok {
			return destination.RetryAfter(after, err)
		}
		return err
	case code == http.StatusRequestTimeout:
		return err
	case code >= 400 && code < 500:
		return destination.Permanent(err)
	}
	return err // 5xx, and anything stranger: temporary
}

// requestError explains a request that got no answer. It is temporary.
func (d *Destination) requestError(ctx context.Context, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	if ctx.Err() != nil && context.Cause(ctx) == d.deadline {
		return fmt.Errorf("POST %s: %w", d.display, d.deadline)
	}
	return fmt.Errorf("POST %s: %w", d.display, err)
}

// timeoutError is the cause of an attempt that ran out of Config.Timeout.
// It is a context.DeadlineExceeded.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("no answer within %s", e.after) }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date,
// as a positive delay from now, capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	var after time.Duration
	switch {
	case v == "":
		return 0, false
	case strings.Trim(v, "0123456789") == "":
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true // more digits than fit: as long as allowed
		}
		after = time.Duration(secs) * time.Second
	default:
		t, err := http.ParseTime(v)
		if err != nil {
			return 0, false
		}
		after = t.Sub(now)
	}
	if after <= 0 {
		return 0, false
	}
	return min(after, maxRetryAfter), true
}

// readSnippet reads up to len(buf) bytes of an answer as text: a character
// cut at the limit is dropped and invalid bytes become '?'.
func readSnippet(r io.Reader, buf []byte) string {
	got, _ := io.ReadFull(r, buf)
	full := got == len(buf)
	buf = buf[:got]
	if full {
		start := max(len(buf)-utf8.UTFMax, 0)
		for i := len(buf) - 1; i >= start; i-- {
			if utf8.RuneStart(buf[i]) {
				if !utf8.FullRune(buf[i:]) {
					buf = buf[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(buf), "?")
}

// status returns "500 Internal Server Error", whatever the reason phrase
// the server sent.
func status(resp *http.Response) string {
	if text := http.StatusText(resp.StatusCode); text != "" {
		return strconv.Itoa(resp.StatusCode) + " " + text
	}
	return strconv.Itoa(resp.StatusCode)
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "httpdest", Field: field, Err: fmt.Errorf(format, args...)}
}

func parseURL(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, configError("URL", "required")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, configError("URL", "%w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, configError("URL", "%q: want an http or https URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, configError("URL", "%q has no host", u.Redacted())
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// reservedHeaders are set by hooklatch or the transport; Config.Headers
// cannot name them.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Transfer-Encoding": true,
	"Host": true, "Connection": true,
}

var reservedPrefixes = []string{"Hooklatch-", SentHeaderPrefix, "X-Webhook-", "Webhook-"}

func staticHeader(m map[string]string) (http.Header, error) {
	h := make(http.Header, len(m))
	for name, value := range m {
		if !validHeaderName(name) {
			return nil, configError("Headers", "%q is not a valid header name", clip(name, 64))
		}
		canon := http.CanonicalHeaderKey(name)
		if reservedHeaders[canon] {
			return nil, configError("Headers", "%s is set by hooklatch or the transport", canon)
		}
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(canon, p) {
				return nil, configError("Headers", "%s: names starting %s are set by hooklatch", canon, p)
			}
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, configError("Headers", "the value of %s holds a line break or NUL", canon)
		}
		h[canon] = []string{value}
	}
	return h, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// sharedTransport is the transport Destinations use unless given a client:
// one pool of connections, sized for many deliveries in flight at once.
var sharedTransport = sync.OnceValue(func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
})

// noRedirect hands a redirect back to Deliver, which makes it permanent: a
// moved endpoint is a configuration problem.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
