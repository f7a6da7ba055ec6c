package devtools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/source"
)

// The cases of a Check of another provider's handler (Check.Provider),
// beside those it shares with Sent's: the acceptance case is
// "accepts-<provider>".
const (
	// CaseHandshake: the provider's check of the endpoint is answered
	// (Slack's url_verification, Meta's hub.challenge GET).
	CaseHandshake = "handshake"
)

// ProviderCaseNames returns the cases of a Check of provider's handler,
// in the order they run.
func ProviderCaseNames(provider string) []string {
	return []string{
		"accepts-" + provider, CaseHandshake,
		CaseRejectsBadSignature, CaseRejectsMissing, CaseRejectsTampered, CaseRejectsStale, CaseRejectsReserialised,
		CaseDuplicate, CaseUnknownType, CaseLargeBody, CaseBurst,
	}
}

// providerDeadlines are the providers' own answer deadlines, where they
// differ from DefaultCheckDeadline: Slack retries an event not answered
// within 3 s, GitHub gives up after 10 s.
var providerDeadlines = map[string]time.Duration{"slack": 3 * time.Second, "github": 10 * time.Second}

// providerSchemes say how each provider signs, for advice.
var providerSchemes = map[string]string{
	"standard-webhooks": `webhook-signature: v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}"> keyed with the base64-decoded part after whsec_`,
	"stripe":            `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}"> keyed with the whsec_ secret's text`,
	"github":            `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body> keyed with the webhook secret`,
	"shopify":           `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body> keyed with the app's client secret`,
	"slack":             `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{X-Slack-Request-Timestamp}:{body}"> keyed with the signing secret`,
	"meta":              `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body> keyed with the app secret`,
	"twilio":            `X-Twilio-Signature: <base64 HMAC-SHA1 of the URL Twilio posts to, then each form parameter sorted by name> keyed with the auth token`,
	"hmac":              `the configured header, algorithm, encoding, prefix and signed content`,
}

// provider is what a Check of another provider's handler signs with.
type provider struct {
	name     string
	settings source.Settings
	signer   source.Signer
	forger   source.Signer // the same provider with a secret of its own
	stamped  bool          // the provider signs a timestamp
	form     bool          // bodies are forms, not JSON
}

// newProvider builds the signers of c.Provider.
func (c *Check) newProvider() (*provider, error) {
	s := c.Source
	s.Name, s.Provider = c.Provider, c.Provider
	if len(s.Secrets) == 0 {
		return nil, fmt.Errorf("%w: the %s signing secret is required", ErrCheckConfig, c.Provider)
	}
	if s.PublicURL == "" {
		s.PublicURL = c.URL
	}
	s.Secrets = slices.Clone(s.Secrets)
	src, err := source.New(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckConfig, err)
	}
	signer, ok := src.(source.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: provider %s cannot sign", ErrCheckConfig, c.Provider)
	}
	f := s
	f.Secrets = []string{"whsec_" + randHex(24)}
	forged, err := source.New(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckConfig, err)
	}
	p := &provider{name: c.Provider, settings: s, signer: signer, forger: forged.(source.Signer), form: c.Provider == "twilio"}
	// A provider signs a timestamp when the same body signed at two
	// times carries two signatures.
	now := time.Now()
	a, errA := signer.Sign(c.URL, []byte("{}"), now, "msg_1")
	b, errB := signer.Sign(c.URL, []byte("{}"), now.Add(-10*time.Minute), "msg_1")
	if err := errors.Join(errA, errB); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckConfig, err)
	}
	p.stamped = fmt.Sprint(a) != fmt.Sprint(b)
	return p, nil
}

// provRequest is one of the provider's events: its body, the headers the
// provider sends beside the signature, and the id Standard Webhooks signs.
type provRequest struct {
	typ    string
	body   []byte
	header http.Header
	id     string
}

// provSample builds one of the provider's events.
func (r *checkRun) provSample() (*provRequest, error) {
	reqs, err := r.provSamples(1)
	if err != nil {
		return nil, err
	}
	return reqs[0], nil
}

func (r *checkRun) provSamples(n int) ([]*provRequest, error) {
	p := r.prov
	now := r.NowFunc()
	types := ProviderSampleTypes(p.name)
	out := make([]*provRequest, 0, n)
	if len(types) == 0 { // hmac: an event of the app's own
		for range n {
			typ := "order.created"
			body := fmt.Sprintf(`{"id":"evt_%s","type":%q,"created":%d,"data":{"id":"ord_%s","amount":2000,"currency":"usd"}}`, randAlnum(20), typ, now.Unix(), randAlnum(12))
			h := http.Header{"Content-Type": {"application/json"}}
			if hs := p.settings.HMAC; hs.IDHeader != "" {
				h.Set(hs.IDHeader, uuid.NewString())
			}
			if hs := p.settings.HMAC; hs.TypeHeader != "" {
				h.Set(hs.TypeHeader, typ)
			}
			out = append(out, &provRequest{typ: typ, body: []byte(body), header: h, id: "msg_" + randHex(12)})
		}
		return out, nil
	}
	reqs, err := ProviderSamples(p.name, types[:1], n, now)
	if err != nil {
		return nil, err
	}
	for _, q := range reqs {
		h := http.Header{"Content-Type": {q.ContentType}}
		for k, v := range q.Header {
			h.Set(k, v)
		}
		out = append(out, &provRequest{typ: q.Name, body: q.Body, header: h, id: "msg_" + randHex(12)})
	}
	return out, nil
}

// provHeader is the headers of one attempt at q signed at at by signer.
func (r *checkRun) provHeader(signer source.Signer, q *provRequest, at time.Time) (http.Header, error) {
	signed, err := signer.Sign(r.prov.settings.PublicURL, q.body, at, q.id)
	if err != nil {
		return nil, err
	}
	h := q.header.Clone()
	h.Set("User-Agent", r.UserAgent)
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "hooklatch")
	}
	for k, v := range signed {
		h[k] = v
	}
	return h, nil
}

// provPost signs q at at with the provider's secret and posts it.
func (r *checkRun) provPost(ctx context.Context, q *provRequest, at time.Time) (Answer, error) {
	h, err := r.provHeader(r.prov.signer, q, at)
	if err != nil {
		return Answer{}, err
	}
	return r.post(ctx, h, q.body), nil
}

// providerCases are the cases of a Check of another provider's handler.
func (c *Check) providerCases() []checkCase {
	return []checkCase{
		{"accepts-" + c.Provider, (*checkRun).provAccepts},
		{CaseHandshake, (*checkRun).provHandshake},
		{CaseRejectsBadSignature, (*checkRun).provRejectsBadSignature},
		{CaseRejectsMissing, (*checkRun).provRejectsMissing},
		{CaseRejectsTampered, (*checkRun).provRejectsTampered},
		{CaseRejectsStale, (*checkRun).provRejectsStale},
		{CaseRejectsReserialised, (*checkRun).provRejectsReserialised},
		{CaseDuplicate, (*checkRun).provDuplicate},
		{CaseUnknownType, (*checkRun).provUnknownType},
		{CaseLargeBody, (*checkRun).provLargeBody},
		{CaseBurst, (*checkRun).provBurst},
	}
}

// provRetried is the advice for an event not answered 2xx.
func (r *checkRun) provRetried() string {
	return r.Provider + " retries a delivery that is not answered 2xx, and stops sending to an endpoint that keeps failing: answer 2xx once the event is stored"
}

// provValidAdvice is the advice for a valid event that was not answered
// 2xx.
func (r *checkRun) provValidAdvice(a Answer, caseAdvice string) string {
	switch {
	case errors.Is(a.Err, ErrTimeout):
		return r.provSlowAdvice()
	case a.StatusCode == http.StatusUnauthorized || a.StatusCode == http.StatusForbidden:
		advice := fmt.Sprintf("the handler refused a correctly signed %s event: check that it has this secret and verifies the raw body bytes as %s signs them: %s",
			r.Provider, r.Provider, providerSchemes[r.Provider])
		if r.Provider == "twilio" {
			advice += fmt.Sprintf("; the check signed the URL %s: if the handler validates another (its public URL behind a proxy), pass it as public_url=", r.prov.settings.PublicURL)
		}
		return advice
	case a.StatusCode == http.StatusNotFound || a.StatusCode == http.StatusMethodNotAllowed:
		return advicePath
	case a.StatusCode/100 == 3:
		return adviceRedirect
	}
	return caseAdvice
}

func (r *checkRun) provSlowAdvice() string {
	return fmt.Sprintf("%s expects an answer within %s, then counts a failed delivery and retries it: acknowledge as soon as the event is stored, and do the work afterwards (a queue, a worker)",
		r.Provider, r.Deadline)
}

// provValid grades the answer to a valid event: 2xx within the deadline.
func (r *checkRun) provValid(a Answer, what string) Result {
	switch {
	case !a.OK():
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", r.answerText(a), what), Advice: r.provValidAdvice(a, r.provRetried())}
	case a.Took > r.Deadline:
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s after %s, past the %s deadline", a.Status, latency(a.Took), r.Deadline), Advice: r.provSlowAdvice()}
	case a.Took > slowAnswer:
		return Result{Verdict: VerdictWarn, Reason: fmt.Sprintf("%s after %s, close to the %s deadline", a.Status, latency(a.Took), r.Deadline),
			Advice: "acknowledge as soon as the event is stored and do the work afterwards, so that a busy moment stays within the deadline"}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s in %s to %s", a.Status, latency(a.Took), what)}
}

func (r *checkRun) provAccepts(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	a, err := r.provPost(ctx, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	return r.provValid(a, fmt.Sprintf("a valid %s event signed as %s signs", q.typ, r.Provider))
}

// provHandshake answers the provider's check of the endpoint: Slack posts
// a signed url_verification whose challenge must come back; Meta sends a
// GET with its verify token and a challenge to echo, and a wrong token
// must be refused.
func (r *checkRun) provHandshake(ctx context.Context) Result {
	switch r.Provider {
	case "slack":
		challenge := randAlnum(32)
		q := &provRequest{typ: "url_verification", body: fmt.Appendf(nil, `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":%q,"type":"url_verification"}`, challenge),
			header: http.Header{"Content-Type": {"application/json"}}}
		a, err := r.provPost(ctx, q, r.NowFunc())
		if err != nil {
			return broken(err)
		}
		switch {
		case !a.OK():
			return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to Slack's signed url_verification request", r.answerText(a)),
				Advice: r.provValidAdvice(a, `Slack enables the Events API URL only once it answers {"type":"url_verification","challenge":…} with 200 and the challenge`)}
		case !bytes.Contains(a.Body, []byte(challenge)):
			return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to Slack's url_verification, without its challenge in the answer", a.Status),
				Advice: `answer url_verification with the challenge: the challenge's value as text, or {"challenge":"…"} as JSON; Slack does not enable the URL otherwise`}
		}
		return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s with the challenge to Slack's signed url_verification", a.Status)}
	case "meta":
		challenge := randDigits(10)
		ok := r.get(ctx, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {r.prov.settings.VerifyToken}, "hub.challenge": {challenge}})
		if !ok.OK() || strings.TrimSpace(string(ok.Body)) != challenge {
			advice := "answer GET ?hub.mode=subscribe&hub.verify_token=<your token>&hub.challenge=<n> with 200 and the challenge alone as the body, when the token is yours: Meta sends no event before"
			if ok.StatusCode == http.StatusNotFound || ok.StatusCode == http.StatusMethodNotAllowed {
				advice = "the URL takes no GET: " + advice
			}
			return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to Meta's subscription GET with the right verify token, body %q, not the challenge %s", r.answerText(ok), clipBody(ok.Body), challenge), Advice: advice}
		}
		wrong := r.get(ctx, url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"not-" + r.prov.settings.VerifyToken}, "hub.challenge": {challenge}})
		if wrong.OK() {
			return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to the subscription GET with a wrong verify token", wrong.Status),
				Advice: "compare hub.verify_token with your token and answer 403 when it differs: otherwise anyone can subscribe the endpoint to their app"}
		}
		return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s with the challenge to Meta's subscription GET; %s to a wrong verify token", ok.Status, r.answerText(wrong))}
	}
	return Result{Verdict: VerdictSkip, Reason: r.Provider + " checks no endpoint before it sends events"}
}

// get sends the handshake GET with query and reads the answer.
func (r *checkRun) get(ctx context.Context, query url.Values) Answer {
	u, err := url.Parse(r.URL)
	if err != nil {
		return Answer{Err: err}
	}
	q := u.Query()
	for k, v := range query {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Answer{Err: err}
	}
	req.Header.Set("User-Agent", "facebookexternalua")
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return Answer{Took: time.Since(start), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	r.answered.Store(true)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return Answer{StatusCode: resp.StatusCode, Status: resp.Status, Body: body, Took: time.Since(start)}
}

func clipBody(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

func (r *checkRun) provRejectsBadSignature(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	h, err := r.provHeader(r.prov.forger, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	return r.rejects(r.post(ctx, h, q.body), "a request signed with another secret",
		fmt.Sprintf("verify the signature on every request (%s), with a constant-time compare, and answer 401 when it does not match: anyone who knows the URL can post events", providerSchemes[r.Provider]))
}

func (r *checkRun) provRejectsMissing(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	h, err := r.provHeader(r.prov.signer, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	signed, err := r.prov.signer.Sign(r.prov.settings.PublicURL, q.body, r.NowFunc(), q.id)
	if err != nil {
		return broken(err)
	}
	var names []string
	for k := range signed {
		h.Del(k)
		names = append(names, k)
	}
	slices.Sort(names)
	return r.rejects(r.post(ctx, h, q.body), "a request without "+strings.Join(names, ", "),
		"treat a missing signature as a failed verification and answer 401, never as a reason to skip it")
}

// tamperDigit changes one digit of body, which stays JSON (or a form): the
// change an attacker makes to an amount.
func tamperDigit(body []byte) []byte {
	out := bytes.Clone(body)
	for i := len(out) - 1; i >= 0; i-- {
		if c := out[i]; c >= '0' && c <= '9' {
			out[i] = '0' + (c-'0'+1)%10
			return out
		}
	}
	return append(out, ' ')
}

func (r *checkRun) provRejectsTampered(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	h, err := r.provHeader(r.prov.signer, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	return r.rejects(r.post(ctx, h, tamperDigit(q.body)), "a signed body with one digit changed afterwards",
		"verify the signature over the exact bytes received, and answer 401 when it does not match")
}

func (r *checkRun) provRejectsStale(ctx context.Context) Result {
	if !r.prov.stamped {
		return Result{Verdict: VerdictSkip, Reason: r.Provider + " signs no timestamp: nothing in a request tells a replay from a first delivery, so only deduplication on the event (its id, else its body) stops one"}
	}
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	a, err := r.provPost(ctx, q, r.NowFunc().Add(-10*time.Minute))
	if err != nil {
		return broken(err)
	}
	return r.rejects(a, "a request signed 10 minutes ago",
		fmt.Sprintf("reject a request whose signed timestamp is more than 5 minutes old, as %s's own libraries do: otherwise a captured request can be replayed at will", r.Provider))
}

func (r *checkRun) provRejectsReserialised(ctx context.Context) Result {
	if r.prov.form {
		return Result{Verdict: VerdictSkip, Reason: r.Provider + " posts a form, not JSON: its signature covers the parameters, not their spelling"}
	}
	var accepted, failures []string
	var worst Answer
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	q.body = prettyJSON(q.body)
	control, err := r.provPost(ctx, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	if !control.OK() {
		failures = append(failures, fmt.Sprintf("%s to a pretty-printed body signed over its raw bytes", r.answerText(control)))
	}
	sent := 0
	for _, v := range reserialisations {
		q, err := r.provSample()
		if err != nil {
			return broken(err)
		}
		raw := prettyJSON(q.body)
		signed := v.form(raw)
		if bytes.Equal(signed, raw) {
			continue
		}
		sent++
		q.body = signed
		h, err := r.provHeader(r.prov.signer, q, r.NowFunc())
		if err != nil {
			return broken(err)
		}
		switch a := r.post(ctx, h, raw); {
		case a.OK():
			accepted = append(accepted, v.name)
		case a.StatusCode/100 != 4:
			worst = a
		}
	}
	if len(accepted) > 0 {
		failures = append([]string{"accepted a pretty-printed body signed over a re-serialised form: " + strings.Join(accepted, ", ")}, failures...)
	}
	if len(failures) > 0 {
		return Result{Verdict: VerdictFail, Reason: strings.Join(failures, "; "),
			Advice: fmt.Sprintf("verify the signature over the raw request bytes, read before any JSON parsing: %s signs the bytes it sends, and a re-serialised body differs in spacing, key order or escapes", r.Provider)}
	}
	if worst.StatusCode != 0 || worst.Err != nil {
		return r.rejects(worst, "a body signed over its re-serialised JSON", "")
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("refused a pretty-printed body signed over %s, accepted it signed over its raw bytes", Count(sent, "re-serialisation", "re-serialisations"))}
}

func (r *checkRun) provDuplicate(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	now := r.NowFunc()
	first, err := r.provPost(ctx, q, now.Add(-time.Minute))
	if err != nil {
		return broken(err)
	}
	if !first.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to the first delivery", r.answerText(first)), Advice: r.provValidAdvice(first, r.provRetried())}
	}
	if r.Provider == "slack" {
		q.header.Set("X-Slack-Retry-Num", "1")
		q.header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	second, err := r.provPost(ctx, q, now)
	if err != nil {
		return broken(err)
	}
	if !second.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to a retry of an acknowledged event (same body, signed afresh)", r.answerText(second)),
			Advice: r.provValidAdvice(second, r.Provider+" retries it again: acknowledge a duplicate with 2xx, and skip its work")}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s, then %s to a retry of the same event; answers cannot show whether the app acted twice: make the work idempotent on the event's id", first.Status, second.Status)}
}

// provUnknown makes q an event of a type nobody knows yet, where the
// provider says its type.
func (r *checkRun) provUnknown(q *provRequest) (string, bool) {
	const typ = "hooklatch.teleported"
	setJSON := func(field, old string) bool {
		from, to := fmt.Sprintf(`%s:%q`, field, old), fmt.Sprintf(`%s:%q`, field, typ)
		if !bytes.Contains(q.body, []byte(from)) {
			return false
		}
		q.body = bytes.Replace(q.body, []byte(from), []byte(to), 1)
		return true
	}
	switch r.Provider {
	case "github":
		q.header.Set("X-GitHub-Event", "hooklatch_teleported")
		return "X-GitHub-Event: hooklatch_teleported", true
	case "shopify":
		q.header.Set("X-Shopify-Topic", "hooklatch/teleported")
		return "X-Shopify-Topic: hooklatch/teleported", true
	case "slack":
		return "event.type " + typ, setJSON(`"event":{"type"`, q.typ)
	case "meta":
		return "field " + typ, setJSON(`"field"`, "messages")
	case "twilio":
		form, err := url.ParseQuery(string(q.body))
		if err != nil {
			return "", false
		}
		form.Set("SmsStatus", "teleported")
		form.Set("MessageStatus", "teleported")
		q.body = []byte(form.Encode())
		return "MessageStatus=teleported", true
	case "hmac":
		if h := r.prov.settings.HMAC.TypeHeader; h != "" {
			q.header.Set(h, typ)
			return h + ": " + typ, true
		}
	}
	return "type " + typ, setJSON(`"type"`, q.typ)
}

func (r *checkRun) provUnknownType(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	what, ok := r.provUnknown(q)
	if !ok {
		return Result{Verdict: VerdictSkip, Reason: "the " + r.Provider + " sample names no type to change"}
	}
	a, err := r.provPost(ctx, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	if !a.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to a signed event of an unknown type (%s)", r.answerText(a), what),
			Advice: r.provValidAdvice(a, "acknowledge event types you do not handle with 2xx (keep or ignore them): "+r.Provider+" adds types, and retries every non-2xx answer")}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s to a signed event of an unknown type (%s)", a.Status, what)}
}

func (r *checkRun) provLargeBody(ctx context.Context) Result {
	q, err := r.provSample()
	if err != nil {
		return broken(err)
	}
	pad := strings.Repeat("Large event. ", LargeBodyBytes/13+1)
	if r.prov.form {
		form, _ := url.ParseQuery(string(q.body))
		form.Set("Body", pad[:max(LargeBodyBytes-len(q.body), 1)])
		q.body = []byte(form.Encode())
	} else {
		var probe map[string]json.RawMessage
		end := bytes.LastIndexByte(q.body, '}')
		if json.Unmarshal(q.body, &probe) != nil || end < 0 {
			return Result{Verdict: VerdictSkip, Reason: "the sample is not a JSON object"}
		}
		field := fmt.Sprintf(`,"description":%q`, pad[:max(LargeBodyBytes-len(q.body), 1)])
		q.body = slices.Concat(q.body[:end], []byte(field), q.body[end:])
	}
	a, err := r.provPost(ctx, q, r.NowFunc())
	if err != nil {
		return broken(err)
	}
	what := fmt.Sprintf("a %d KiB event", len(q.body)>>10)
	if a.StatusCode == http.StatusRequestEntityTooLarge {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", a.Status, what),
			Advice: "raise the body limit of the handler, and of any proxy in front of it, to 1 MiB or more: the event is retried and never delivered"}
	}
	res := r.provValid(a, what)
	if res.Verdict == VerdictWarn {
		res.Verdict, res.Advice = VerdictPass, ""
	}
	return res
}

func (r *checkRun) provBurst(ctx context.Context) Result {
	qs, err := r.provSamples(r.Burst)
	if err != nil {
		return broken(err)
	}
	answers := make([]Answer, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		h, err := r.provHeader(r.prov.signer, q, r.NowFunc())
		if err != nil {
			return broken(err)
		}
		wg.Go(func() { answers[i] = r.post(ctx, h, q.body) })
	}
	wg.Wait()
	t := tallyBurst(answers, r.Deadline)
	late, notOK, other, timing := t.late, t.notOK, t.other, t.timing
	if bad := late + notOK; bad > 0 {
		reason := fmt.Sprintf("%d of %d concurrent deliveries not acknowledged within %s (%d late, %d not 2xx", bad, len(answers), r.Deadline, late, notOK)
		advice := r.provSlowAdvice()
		if notOK > 0 {
			reason += ", such as " + r.answerText(other)
			if !errors.Is(other.Err, ErrTimeout) {
				advice = r.provValidAdvice(other, "take concurrent deliveries: raise the handler's concurrency limit; "+r.provRetried())
			}
		}
		return Result{Verdict: VerdictFail, Reason: reason + "); " + timing, Advice: advice}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%d of %d concurrent deliveries acknowledged within %s: %s", len(answers), len(answers), r.Deadline, timing)}
}
