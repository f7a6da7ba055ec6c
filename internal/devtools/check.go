package devtools

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// The cases of a Check, in the order they run.
const (
	CaseAcceptsV1           = "accepts-v1"
	CaseAcceptsLegacy       = "accepts-legacy"
	CaseRejectsBadSignature = "rejects-bad-signature"
	CaseRejectsMissing      = "rejects-missing-signature"
	CaseRejectsTampered     = "rejects-tampered-body"
	CaseRejectsStale        = "rejects-stale-timestamp"
	CaseRejectsReserialised = "rejects-reserialised-json"
	CaseDuplicate           = "duplicate"
	CaseUnknownType         = "unknown-type"
	CaseLargeBody           = "large-body"
	CaseBurst               = "burst"
	CaseOutOfOrder          = "out-of-order"
)

// CaseNames returns the name of every case, in the order they run.
func CaseNames() []string {
	return []string{
		CaseAcceptsV1, CaseAcceptsLegacy,
		CaseRejectsBadSignature, CaseRejectsMissing, CaseRejectsTampered, CaseRejectsStale, CaseRejectsReserialised,
		CaseDuplicate, CaseUnknownType, CaseLargeBody, CaseBurst, CaseOutOfOrder,
	}
}

// Defaults of a Check.
const (
	// DefaultCheckDeadline is how long Sent waits for an answer.
	DefaultCheckDeadline = 5 * time.Second
	// DefaultCheckTimeout bounds each request, so that a slow answer is
	// measured rather than cut off at the deadline.
	DefaultCheckTimeout = 30 * time.Second
	// DefaultCheckBurst is how many deliveries the burst case sends at once.
	DefaultCheckBurst = 50
	// LargeBodyBytes is the size of the large-body case's event.
	LargeBodyBytes = 256 << 10
)

// slowAnswer is the answer time above which an acknowledgement is graded
// WARN even within the deadline.
const slowAnswer = time.Second

// ErrCheckConfig wraps the errors of a Check that is not set up right: no
// URL, no secret, an unknown case or scheme.
var ErrCheckConfig = errors.New("check")

// ErrUnreachable is returned by Check.Run when the first requests get no
// answer at all (connection refused, unknown host): there is no handler to
// grade.
var ErrUnreachable = errors.New("cannot reach the handler")

// Check grades a webhook handler against Sent's delivery contract. It sends
// the handler what Sent sends (valid events in each scheme, retries,
// unknown types, large bodies, bursts, statuses out of order) and what an
// attacker would (bad, missing, stale and re-serialised signatures, a
// tampered body), and grades each answer.
type Check struct {
	// URL is where the handler takes webhooks. Required.
	URL string
	// Secret is the handler's signing secret. Required.
	Secret signature.Secret
	// Schemes are the signature schemes the handler must accept; the
	// accepts-<scheme> case runs for each. The other cases sign with V1
	// when it is listed, else with Legacy, and rejects-stale-timestamp is
	// skipped without V1. Defaults to V1 and Legacy.
	Schemes []signature.Scheme
	// Deadline is how fast a valid event must be acknowledged. Defaults to
	// DefaultCheckDeadline.
	Deadline time.Duration
	// Timeout bounds each request. Defaults to DefaultCheckTimeout.
	Timeout time.Duration
	// Burst is how many deliveries the burst case sends at once. Defaults
	// to DefaultCheckBurst.
	Burst int
	// Only names the cases to run (see CaseNames). Defaults to all.
	Only []string
	// OnResult, when set, is called with each result as soon as it is
	// known, in order.
	OnResult func(Result)
	// NowFunc stamps and signs the requests. Defaults to time.Now.
	NowFunc func() time.Time
	// UserAgent names the sender. Defaults to "hooklatch".
	UserAgent string

	// Provider, when set, grades a handler of another provider's webhooks
	// instead of Sent's: a registered source provider (see
	// source.Providers). Its requests are the provider's samples, signed
	// as it signs them with Source's first secret, and the cases are
	// ProviderCaseNames: no out-of-order case, a handshake case, and
	// rejects-stale-timestamp only where the provider signs a timestamp.
	// Secret and Schemes are then unused. Defaults to Sent's.
	Provider string
	// Source configures Provider's signing: Secrets (required; the first
	// signs), VerifyToken (meta; required), PublicURL (twilio; defaults
	// to URL), HMAC (hmac). Name and Provider are the check's own.
	Source source.Settings
}

// Verdict grades one case.
type Verdict string

// The verdicts. Only VerdictFail fails a check.
const (
	VerdictPass Verdict = "PASS"
	VerdictFail Verdict = "FAIL"
	VerdictWarn Verdict = "WARN"
	VerdictSkip Verdict = "SKIP"
)

// Result is the grade of one case.
type Result struct {
	Case    string
	Verdict Verdict
	// Reason says what the handler answered, in one line.
	Reason string
	// Advice says what to change, for VerdictFail and VerdictWarn.
	Advice string
	// Took is how long the case ran.
	Took time.Duration
}

// Report is the outcome of a Check.
type Report struct {
	URL     string
	Started time.Time
	Took    time.Duration
	Results []Result
}

// Count returns how many results have verdict v.
func (r Report) Count(v Verdict) int {
	n := 0
	for _, res := range r.Results {
		if res.Verdict == v {
			n++
		}
	}
	return n
}

// OK reports whether no case failed.
func (r Report) OK() bool { return r.Count(VerdictFail) == 0 }

// Failed returns the names of the failed cases, in order.
func (r Report) Failed() []string {
	var out []string
	for _, res := range r.Results {
		if res.Verdict == VerdictFail {
			out = append(out, res.Case)
		}
	}
	return out
}

// Summary is "9 passed, 2 failed, 1 warning", plus the skipped cases when
// there are any.
func (r Report) Summary() string {
	s := fmt.Sprintf("%d passed, %d failed, %s", r.Count(VerdictPass), r.Count(VerdictFail),
		Count(r.Count(VerdictWarn), "warning", "warnings"))
	if n := r.Count(VerdictSkip); n > 0 {
		s += fmt.Sprintf(", %d skipped", n)
	}
	return s
}

// WriteResult writes res as one line, "FAIL  case  reason", and for FAIL
// and WARN an indented line of advice.
func WriteResult(w io.Writer, res Result) error {
	line := fmt.Sprintf("%-4s  %-25s  %s\n", res.Verdict, res.Case, res.Reason)
	if res.Advice != "" && (res.Verdict == VerdictFail || res.Verdict == VerdictWarn) {
		line += "      " + res.Advice + "\n"
	}
	_, err := io.WriteString(w, line)
	return err
}

// checkCase is one case: its name and how it runs.
type checkCase struct {
	name string
	run  func(r *checkRun, ctx context.Context) Result // a method expression
}

// cases returns the cases to run, in order.
func (c *Check) cases() []checkCase {
	var all []checkCase
	for _, s := range []signature.Scheme{signature.V1, signature.Legacy} {
		if slices.Contains(c.Schemes, s) {
			all = append(all, checkCase{"accepts-" + string(s), func(r *checkRun, ctx context.Context) Result { return r.accepts(ctx, s) }})
		}
	}
	all = append(all,
		checkCase{CaseRejectsBadSignature, (*checkRun).rejectsBadSignature},
		checkCase{CaseRejectsMissing, (*checkRun).rejectsMissing},
		checkCase{CaseRejectsTampered, (*checkRun).rejectsTampered},
		checkCase{CaseRejectsStale, (*checkRun).rejectsStale},
		checkCase{CaseRejectsReserialised, (*checkRun).rejectsReserialised},
		checkCase{CaseDuplicate, (*checkRun).duplicate},
		checkCase{CaseUnknownType, (*checkRun).unknownType},
		checkCase{CaseLargeBody, (*checkRun).largeBody},
		checkCase{CaseBurst, (*checkRun).burst},
		checkCase{CaseOutOfOrder, (*checkRun).outOfOrder},
	)
	if c.Provider != "" {
		all = c.providerCases()
	}
	if len(c.Only) == 0 {
		return all
	}
	return slices.DeleteFunc(all, func(cc checkCase) bool { return !slices.Contains(c.Only, cc.name) })
}

// withDefaults validates c and returns a copy with its defaults applied.
func (c Check) withDefaults() (Check, error) {
	if c.URL == "" {
		return c, fmt.Errorf("%w: the handler's URL is required", ErrCheckConfig)
	}
	if c.Provider == "" && c.Secret.Fingerprint() == "" {
		return c, fmt.Errorf("%w: the signing secret is required", ErrCheckConfig)
	}
	if len(c.Schemes) == 0 {
		c.Schemes = []signature.Scheme{signature.V1, signature.Legacy}
	}
	for _, s := range c.Schemes {
		if s != signature.V1 && s != signature.Legacy {
			return c, fmt.Errorf("%w: scheme %q: want %s or %s", ErrCheckConfig, s, signature.V1, signature.Legacy)
		}
	}
	names := CaseNames()
	if c.Provider != "" {
		names = ProviderCaseNames(c.Provider)
		if c.Deadline <= 0 {
			c.Deadline = cmp.Or(providerDeadlines[c.Provider], DefaultCheckDeadline)
		}
	}
	for _, name := range c.Only {
		if !slices.Contains(names, name) {
			return c, fmt.Errorf("%w: no case %q (the cases: %s)", ErrCheckConfig, name, strings.Join(names, ", "))
		}
	}
	if c.Deadline <= 0 {
		c.Deadline = DefaultCheckDeadline
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultCheckTimeout
	}
	if c.Burst <= 0 {
		c.Burst = DefaultCheckBurst
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	return c, nil
}

// Run runs the cases in order and grades each. Its error is nil, or wraps
// ErrCheckConfig, ErrUnreachable, or the context's error; the report then
// holds the results so far.
func (c *Check) Run(ctx context.Context) (Report, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return Report{URL: c.URL}, err
	}
	var prov *provider
	if cfg.Provider != "" {
		if prov, err = cfg.newProvider(); err != nil {
			return Report{URL: c.URL}, err
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = cfg.Burst
	defer transport.CloseIdleConnections()

	primary := signature.V1
	if !slices.Contains(cfg.Schemes, signature.V1) {
		primary = signature.Legacy
	}
	r := &checkRun{
		Check: cfg,
		client: &http.Client{
			Transport: transport,
			Timeout:   cfg.Timeout,
			// Sent does not follow a redirect; neither does the check, so
			// that a 3xx is graded as the answer it is.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		scheme: primary,
		prov:   prov,
		// One endpoint id for the whole run, as Sent sends one per webhook.
		webhookID: uuid.NewString(),
	}

	report := Report{URL: cfg.URL, Started: cfg.NowFunc()}
	start := time.Now()
	for _, cc := range cfg.cases() {
		caseStart := time.Now()
		res := cc.run(r, ctx)
		res.Case = cc.name
		res.Took = time.Since(caseStart)
		if err := ctx.Err(); err != nil {
			report.Took = time.Since(start)
			return report, err
		}
		if a := r.unreachable(); a != nil {
			report.Took = time.Since(start)
			return report, fmt.Errorf("%w at %s: %s", ErrUnreachable, cfg.URL, a)
		}
		report.Results = append(report.Results, res)
		if cfg.OnResult != nil {
			cfg.OnResult(res)
		}
	}
	report.Took = time.Since(start)
	return report, nil
}

// checkRun is the state of one run of a Check.
type checkRun struct {
	Check
	client    *http.Client
	prov      *provider        // another provider's signing, when Check.Provider is set
	scheme    signature.Scheme // the scheme of every case but accepts-*
	webhookID string
	// legacyOnly is set once accepts-v1 finds a handler that refuses a
	// v1-signed event but accepts the same event signed legacy: the
	// other cases then sign legacy, grading what it implements.
	legacyOnly bool

	answered atomic.Bool // some request got an HTTP answer
	mu       sync.Mutex
	refused  *Answer // the first connection failure before any answer
}

// signer signs with the run's secret in scheme.
func (r *checkRun) signer(scheme signature.Scheme) Signer {
	return Signer{Scheme: scheme, Secret: r.Secret, WebhookID: r.webhookID, UserAgent: r.UserAgent}
}

// post sends one request and notes whether the handler is reachable.
func (r *checkRun) post(ctx context.Context, header http.Header, body []byte) Answer {
	a := Post(ctx, r.client, r.URL, header, bytes.NewReader(body))
	switch {
	case a.StatusCode != 0:
		r.answered.Store(true)
	case a.Err != nil && !errors.Is(a.Err, ErrTimeout) && ctx.Err() == nil:
		r.mu.Lock()
		if r.refused == nil {
			r.refused = &a
		}
		r.mu.Unlock()
	}
	return a
}

// unreachable returns the connection failure that shows there is no
// handler: one that came before any answer.
func (r *checkRun) unreachable() *Answer {
	if r.answered.Load() {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

// samples builds n events of typ as they are sent in scheme.
func (r *checkRun) samples(typ string, n int, scheme signature.Scheme) ([]*Request, error) {
	return Samples{Types: []string{typ}, Count: n, Legacy: scheme == signature.Legacy, NowFunc: r.NowFunc}.Build()
}

// sample builds one event of typ in the run's scheme.
func (r *checkRun) sample(typ string) (*Request, error) {
	reqs, err := r.samples(typ, 1, r.scheme)
	if err != nil {
		return nil, err
	}
	return reqs[0], nil
}

// broken is the result of a case that could not build its requests, which
// is a fault of the check, not of the handler.
func broken(err error) Result {
	return Result{Verdict: VerdictFail, Reason: "could not build the request: " + err.Error(), Advice: "this is a fault of hooklatch check; please report it"}
}

// answerText is the answer's status, or why there was none.
func (r *checkRun) answerText(a Answer) string {
	if errors.Is(a.Err, ErrTimeout) {
		return "no answer within " + r.Timeout.String()
	}
	if a.StatusCode == 0 {
		return "no answer: " + a.String()
	}
	return a.Status
}

// Advice shared by several cases.
const (
	adviceVerify = "the handler refused a correctly signed event: check that it has this secret and verifies the raw body bytes " +
		"(v1: HMAC-SHA256 of \"{X-Webhook-Id}.{X-Webhook-Timestamp}.{body}\" keyed with the base64-decoded part after whsec_; " +
		"legacy: HMAC-SHA256 of the body keyed with the secret's text)"
	advicePath     = "nothing takes a POST at this URL: check the path"
	adviceRedirect = "answer at this URL: a delivery that is redirected is not delivered"
	adviceRetried  = "Sent retries every delivery that is not answered 2xx, and ten consecutive failures disable the endpoint: " +
		"answer 2xx once the event is stored"
	adviceAnswer401 = "answer 401 when a signature does not verify: a 5xx says the handler broke, not that it refused the request"
	adviceUse401    = "answer 401 (or 403) when a signature does not verify, so that the sender and your logs can tell a refused request from a malformed one"
	adviceNoAnswer  = "answer 401 promptly when a signature does not verify"
)

// slowAdvice is the advice for an acknowledgement that is too slow.
func (r *checkRun) slowAdvice() string {
	return fmt.Sprintf("Sent waits %s for an answer, then counts a failed delivery and retries it: acknowledge as soon as the event is stored, and do the work afterwards (a queue, a worker)",
		r.Deadline)
}

// validAdvice is the advice for a valid event that was not answered 2xx:
// about signing, the URL or redirects when the answer points there, else
// caseAdvice.
func (r *checkRun) validAdvice(a Answer, caseAdvice string) string {
	switch {
	case errors.Is(a.Err, ErrTimeout):
		return r.slowAdvice()
	case a.StatusCode == http.StatusUnauthorized || a.StatusCode == http.StatusForbidden:
		return adviceVerify
	case a.StatusCode == http.StatusNotFound || a.StatusCode == http.StatusMethodNotAllowed:
		return advicePath
	case a.StatusCode/100 == 3:
		return adviceRedirect
	}
	return caseAdvice
}

// accepts: a valid event in scheme is acknowledged with 2xx within the
// deadline.
func (r *checkRun) accepts(ctx context.Context, scheme signature.Scheme) Result {
	reqs, err := r.samples("message.delivered", 1, scheme)
	if err != nil {
		return broken(err)
	}
	req := reqs[0]
	a := r.post(ctx, r.signer(scheme).Header(req, r.NowFunc()), req.Body)
	what := fmt.Sprintf("a valid %s event signed %s", req.Type, scheme)
	switch {
	case !a.OK() && scheme == signature.V1 && r.acceptsOnlyLegacy(ctx, a, req):
		r.legacyOnly, r.scheme = true, signature.Legacy
		return Result{Verdict: VerdictFail,
			Reason: fmt.Sprintf("%s to %s, yet the same event signed legacy (sha256=) was accepted: this handler verifies legacy signatures only", r.answerText(a), what),
			Advice: AdviceLegacyOnly}
	case !a.OK():
		advice := r.validAdvice(a, adviceRetried)
		if (a.StatusCode == http.StatusUnauthorized || a.StatusCode == http.StatusForbidden) && len(r.Schemes) > 1 {
			other := signature.V1
			if scheme == signature.V1 {
				other = signature.Legacy
			}
			advice += fmt.Sprintf("; if Sent signs your endpoint only with %s, grade that alone with --scheme %s", other, other)
		}
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", r.answerText(a), what), Advice: advice}
	case a.Took > r.Deadline:
		return Result{Verdict: VerdictFail,
			Reason: fmt.Sprintf("%s after %s, past the %s deadline", a.Status, latency(a.Took), r.Deadline),
			Advice: r.slowAdvice()}
	case a.Took > slowAnswer:
		return Result{Verdict: VerdictWarn,
			Reason: fmt.Sprintf("%s after %s, close to the %s deadline", a.Status, latency(a.Took), r.Deadline),
			Advice: "acknowledge as soon as the event is stored and do the work afterwards, so that a busy moment stays within the deadline"}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s in %s to %s", a.Status, latency(a.Took), what)}
}

// AdviceLegacyOnly is what check says, once, of a handler that verifies
// only legacy sha256= signatures, as the handlers of Sent's guide do.
const AdviceLegacyOnly = "Sent signs every delivery v1 today, so this handler will refuse real deliveries: " +
	"verify X-Webhook-Signature: v1,<base64 HMAC-SHA256 of {X-Webhook-Id}.{X-Webhook-Timestamp}.{body}> " +
	"(any Standard Webhooks library does), keeping sha256= for legacy endpoints if you like. " +
	"The other cases are graded on legacy signatures, what the handler implements"

// acceptsOnlyLegacy reports whether a handler that refused (with 401 or
// 403) a v1-signed req accepts the same event signed legacy, when the run
// grades both schemes.
func (r *checkRun) acceptsOnlyLegacy(ctx context.Context, refused Answer, req *Request) bool {
	if (refused.StatusCode != http.StatusUnauthorized && refused.StatusCode != http.StatusForbidden) || !slices.Contains(r.Schemes, signature.Legacy) {
		return false
	}
	return r.post(ctx, r.signer(signature.Legacy).Header(req, r.NowFunc()), req.Body).OK()
}

// rejects grades the answer to a request that must be refused: what
// describes the request, acceptedAdvice says what to change when it was
// accepted.
func (r *checkRun) rejects(a Answer, what, acceptedAdvice string) Result {
	switch {
	case a.StatusCode == http.StatusUnauthorized || a.StatusCode == http.StatusForbidden:
		return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s to %s", a.Status, what)}
	case a.OK():
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("accepted %s (%s)", what, a.Status), Advice: acceptedAdvice}
	case a.StatusCode/100 == 4:
		return Result{Verdict: VerdictWarn, Reason: fmt.Sprintf("%s to %s, not 401", a.Status, what), Advice: adviceUse401}
	case a.StatusCode/100 == 5:
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", a.Status, what), Advice: adviceAnswer401}
	case a.StatusCode == 0:
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", r.answerText(a), what), Advice: adviceNoAnswer}
	}
	return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", a.Status, what), Advice: adviceUse401}
}

func (r *checkRun) rejectsBadSignature(ctx context.Context) Result {
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	forger := r.signer(r.scheme)
	forger.Secret = signature.NewSecret()
	a := r.post(ctx, forger.Header(req, r.NowFunc()), req.Body)
	return r.rejects(a, "a request signed with another secret",
		"verify X-Webhook-Signature on every request, with a constant-time compare, and answer 401 when it does not match: anyone who knows the URL can post events")
}

func (r *checkRun) rejectsMissing(ctx context.Context) Result {
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	h := r.signer(r.scheme).Header(req, r.NowFunc())
	h.Del(signature.HeaderSignature)
	h.Del(signature.HeaderID)
	h.Del(signature.HeaderTimestamp)
	a := r.post(ctx, h, req.Body)
	return r.rejects(a, "a request without signature headers",
		"treat a missing X-Webhook-Signature as a failed verification and answer 401, never as a reason to skip it")
}

func (r *checkRun) rejectsTampered(ctx context.Context) Result {
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	h := r.signer(r.scheme).Header(req, r.NowFunc())
	tampered, err := event.Set(req.Body, "payload.message_status", "FAILED")
	if err != nil {
		return broken(err)
	}
	a := r.post(ctx, h, tampered)
	return r.rejects(a, "a signed body with payload.message_status changed afterwards",
		"verify the signature over the exact bytes received, and answer 401 when it does not match")
}

func (r *checkRun) rejectsStale(ctx context.Context) Result {
	if r.legacyOnly {
		return Result{Verdict: VerdictSkip, Reason: "the handler verifies legacy signatures only, which sign no timestamp"}
	}
	if r.scheme != signature.V1 {
		return Result{Verdict: VerdictSkip, Reason: "the legacy scheme signs no timestamp"}
	}
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	a := r.post(ctx, r.signer(r.scheme).Header(req, r.NowFunc().Add(-10*time.Minute)), req.Body)
	return r.rejects(a, "a request signed 10 minutes ago",
		"reject a request whose X-Webhook-Timestamp is more than 300 s from now (Sent signs every retry afresh): otherwise a captured request can be replayed at will")
}

func (r *checkRun) rejectsReserialised(ctx context.Context) Result {
	var accepted, failures []string
	var worst Answer
	// The control: the pretty-printed body, signed over its own bytes, must
	// be accepted; otherwise the handler is not verifying the raw bytes.
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	req.Body = prettyJSON(req.Body)
	control := r.post(ctx, r.signer(r.scheme).Header(req, r.NowFunc()), req.Body)
	if !control.OK() {
		failures = append(failures, fmt.Sprintf("%s to a pretty-printed body signed over its raw bytes", r.answerText(control)))
	}
	sent := 0
	for _, v := range reserialisations {
		req, err := r.sample("message.delivered")
		if err != nil {
			return broken(err)
		}
		raw := prettyJSON(req.Body)
		signed := v.form(raw)
		if bytes.Equal(signed, raw) {
			continue
		}
		sent++
		req.Body = signed
		h := r.signer(r.scheme).Header(req, r.NowFunc())
		a := r.post(ctx, h, raw)
		switch {
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
			Advice: "verify the signature over the raw request bytes, read before any JSON parsing: Sent signs the bytes it sends, and a re-serialised body differs in spacing, key order or escapes, so genuine events fail to verify and forged ones can pass"}
	}
	if worst.StatusCode != 0 || worst.Err != nil {
		return r.rejects(worst, "a body signed over its re-serialised JSON", "")
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("refused a pretty-printed body signed over %s, accepted it signed over its raw bytes", Count(sent, "re-serialisation", "re-serialisations"))}
}

func (r *checkRun) duplicate(ctx context.Context) Result {
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	signer := r.signer(r.scheme)
	now := r.NowFunc()
	// The retry comes later than the first attempt and is signed afresh.
	first := r.post(ctx, signer.Header(req, now.Add(-time.Minute)), req.Body)
	if !first.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to the first delivery", r.answerText(first)), Advice: r.validAdvice(first, adviceRetried)}
	}
	second := r.post(ctx, signer.Header(req, now), req.Body)
	if !second.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to a retry of an acknowledged event (same body and event id, signed afresh)", r.answerText(second)),
			Advice: r.validAdvice(second, "Sent would retry it, and ten consecutive failures disable the endpoint; acknowledge duplicates with 2xx")}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s, then %s to a retry of the same event", first.Status, second.Status)}
}

func (r *checkRun) unknownType(ctx context.Context) Result {
	req, err := r.sample("message.delivered")
	if err != nil {
		return broken(err)
	}
	body := req.Body
	sets := []string{"payload.message_status=TELEPORTED", "payload.teleport_vector=alpha"}
	if env, err := event.Parse(body); err == nil && env.SubType != "" {
		sets = append(sets, "sub_type=message.teleported")
	}
	if body, err = ApplySets(body, sets); err != nil {
		return broken(err)
	}
	req = NewRequest("message.teleported", body)
	a := r.post(ctx, r.signer(r.scheme).Header(req, r.NowFunc()), req.Body)
	if !a.OK() {
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to a signed event of an unknown type, %s", r.answerText(a), req.Type),
			Advice: r.validAdvice(a, "acknowledge event types you do not handle with 2xx (keep or ignore them): Sent adds types without notice, retries every non-2xx answer, and ten consecutive failures disable the endpoint")}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s to a signed event of an unknown type, %s", a.Status, req.Type)}
}

func (r *checkRun) largeBody(ctx context.Context) Result {
	req, err := r.sample("message.received")
	if err != nil {
		return broken(err)
	}
	body, err := event.Set(req.Body, "payload.text", "x")
	if err != nil {
		return broken(err)
	}
	text := strings.Repeat("Large inbound message. ", LargeBodyBytes/23+1)[:max(LargeBodyBytes-len(body)+1, 1)]
	if req.Body, err = event.Set(body, "payload.text", text); err != nil {
		return broken(err)
	}
	a := r.post(ctx, r.signer(r.scheme).Header(req, r.NowFunc()), req.Body)
	what := fmt.Sprintf("a %d KiB event", len(req.Body)>>10)
	switch {
	case a.StatusCode == http.StatusRequestEntityTooLarge:
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", a.Status, what),
			Advice: "raise the body limit of the handler, and of any proxy in front of it, to 1 MiB or more: Sent retries the event and it is never delivered"}
	case !a.OK():
		return Result{Verdict: VerdictFail, Reason: fmt.Sprintf("%s to %s", r.answerText(a), what), Advice: r.validAdvice(a, adviceRetried)}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%s to %s", a.Status, what)}
}

func (r *checkRun) burst(ctx context.Context) Result {
	reqs, err := r.samples("message.delivered", r.Burst, r.scheme)
	if err != nil {
		return broken(err)
	}
	signer := r.signer(r.scheme)
	answers := make([]Answer, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		h := signer.Header(req, r.NowFunc())
		wg.Go(func() { answers[i] = r.post(ctx, h, req.Body) })
	}
	wg.Wait()

	t := tallyBurst(answers, r.Deadline)
	late, notOK, other, slowest, timing := t.late, t.notOK, t.other, t.slowest, t.timing
	if bad := late + notOK; bad > 0 {
		var parts []string
		if late > 0 {
			parts = append(parts, fmt.Sprintf("%d answered 2xx too late", late))
		}
		if notOK > 0 {
			parts = append(parts, fmt.Sprintf("%d not answered 2xx, such as %s", notOK, r.answerText(other)))
		}
		advice := r.slowAdvice()
		if notOK > 0 && !errors.Is(other.Err, ErrTimeout) {
			advice = r.validAdvice(other, "take concurrent deliveries: raise the handler's (or its rate limiter's) concurrency limit for Sent's requests; "+adviceRetried)
		}
		return Result{Verdict: VerdictFail,
			Reason: fmt.Sprintf("%d of %d concurrent deliveries not acknowledged within %s: %s; %s", bad, len(answers), r.Deadline, strings.Join(parts, ", "), timing),
			Advice: advice}
	}
	if slowest > slowAnswer {
		return Result{Verdict: VerdictWarn,
			Reason: fmt.Sprintf("%d of %d concurrent deliveries acknowledged, close to the %s deadline: %s", len(answers), len(answers), r.Deadline, timing),
			Advice: "acknowledge as soon as the event is stored and do the work afterwards, so that a larger burst stays within the deadline"}
	}
	return Result{Verdict: VerdictPass, Reason: fmt.Sprintf("%d of %d concurrent deliveries acknowledged within %s: %s", len(answers), len(answers), r.Deadline, timing)}
}

// burstTally sums up the answers to a burst.
type burstTally struct {
	late, notOK int           // 2xx past the deadline; not 2xx
	other       Answer        // the first answer that was not a 2xx
	slowest     time.Duration // of any answer
	timing      string        // "slowest …, p99 …"
}

func tallyBurst(answers []Answer, deadline time.Duration) burstTally {
	var t burstTally
	took := make([]time.Duration, 0, len(answers))
	for _, a := range answers {
		took = append(took, a.Took)
		switch {
		case !a.OK():
			t.notOK++
			if t.other.StatusCode == 0 && t.other.Err == nil {
				t.other = a
			}
		case a.Took > deadline:
			t.late++
		}
	}
	slices.Sort(took)
	t.slowest = took[len(took)-1]
	t.timing = fmt.Sprintf("slowest %s, p99 %s", latency(t.slowest), latency(took[(len(took)*99+99)/100-1]))
	return t
}

// outOfOrderLifecycle is the message's lifecycle as it happened, and
// outOfOrderArrival the order the out-of-order case delivers it in, as
// indexes into it: DELIVERED, then a late QUEUED, READ, then a late SENT.
// Each late one is stale on arrival: a later status of its message has
// already been delivered.
var (
	outOfOrderLifecycle = []string{"QUEUED", "SENT", "DELIVERED", "READ"}
	outOfOrderArrival   = []int{2, 0, 3, 1}
)

// outOfOrder sends one message's statuses out of order. It sees answers
// only, never the app's data, so it grades what answers show: that every
// status is acknowledged, and whether the handler refuses exactly the late
// ones (it keeps each message's status and refuses to go back, which Sent
// takes for a failed delivery and retries). Whether the app ends on READ
// it cannot see; the result names the message, to look up.
func (r *checkRun) outOfOrder(ctx context.Context) Result {
	happened, err := Lifecycle(outOfOrderLifecycle, Samples{Legacy: r.scheme == signature.Legacy, NowFunc: r.NowFunc})
	if err != nil {
		return broken(err)
	}
	env, err := event.Parse(happened[0].Body)
	if err != nil {
		return broken(err)
	}
	messageID := env.Subject().ID
	signer := r.signer(r.scheme)
	var (
		sent                  []string
		lateOK, lateRefused   []string // statuses that arrived after a later one
		freshOK, freshRefused []string
		refusal               Answer // the first answer that was not a 2xx
		highest               = -1
	)
	for _, i := range outOfOrderArrival {
		req, status := happened[i], outOfOrderLifecycle[i]
		sent = append(sent, status)
		a := r.post(ctx, signer.Header(req, r.NowFunc()), req.Body)
		late := i < highest
		highest = max(highest, i)
		switch {
		case a.OK() && late:
			lateOK = append(lateOK, status)
		case a.OK():
			freshOK = append(freshOK, status)
		case late:
			lateRefused = append(lateRefused, status)
		default:
			freshRefused = append(freshRefused, status)
		}
		if !a.OK() && refusal.StatusCode == 0 && refusal.Err == nil {
			refusal = a
		}
	}
	order := strings.Join(sent, ", ")
	final := outOfOrderLifecycle[len(outOfOrderLifecycle)-1]
	switch {
	case len(freshRefused) == 0 && len(lateRefused) == 0:
		return Result{Verdict: VerdictPass, Reason: fmt.Sprintf(
			"2xx to each of message %s's statuses sent as %s (%s late); answers cannot show whether the app ends on %s: look the message up in its data",
			messageID, order, strings.Join(lateOK, " and "), final)}
	case len(freshRefused) == 0:
		return Result{Verdict: VerdictFail,
			Reason: fmt.Sprintf("%s to %s, each sent after a later status of its message; 2xx to %s",
				r.answerText(refusal), strings.Join(lateRefused, " and "), strings.Join(freshOK, " and ")),
			Advice: r.validAdvice(refusal, "the handler refuses a status older than the one it stored: keep ignoring it, but answer 2xx, "+
				"since Sent retries a refused delivery and ten consecutive failures disable the endpoint")}
	}
	return Result{Verdict: VerdictFail,
		Reason: fmt.Sprintf("%s to %s, of one message's %s", r.answerText(refusal), strings.Join(append(freshRefused, lateRefused...), " and "), order),
		Advice: r.validAdvice(refusal, "Sent does not guarantee order: answer 2xx to every status, and keep the most advanced one per message (a late SENT does not undo READ)")}
}
