package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/internal/jsonform"
)

// Diagnosis explains the verification of one delivery in plain words.
type Diagnosis struct {
	// OK is true when a Verifier with the same secrets and tolerance, and
	// both schemes allowed, accepts the delivery. Findings may still warn.
	OK bool

	// Scheme is the scheme the signature header uses; "" if none.
	Scheme Scheme

	// Findings are the causes found, most likely first. A finding that makes
	// the signature match is certain and always comes first.
	Findings []Finding
}

// Finding is one cause. Cause is a stable snake_case code (the CauseXxx
// constants); Message explains it and what to do. Messages may name a secret
// by index and fingerprint, never by value, and never show the expected
// signature.
type Finding struct {
	Cause   string
	Message string
}

// Causes reported by Diagnose.
const (
	CauseMissingSignature     = "missing_signature"
	CauseHeaderCase           = "header_case"
	CauseUnknownScheme        = "unknown_scheme"
	CauseMalformedSignature   = "malformed_signature"
	CauseMissingID            = "missing_id"
	CauseMissingTimestamp     = "missing_timestamp"
	CauseMalformedTimestamp   = "malformed_timestamp"
	CauseTimestampMillis      = "timestamp_milliseconds"
	CauseStaleTimestamp       = "stale_timestamp"
	CauseFutureTimestamp      = "future_timestamp"
	CauseBodyReformatted      = "body_reformatted"
	CauseBodyKeysReordered    = "body_keys_reordered"
	CauseBodyEscaping         = "body_escaping"
	CauseTrailingNewline      = "trailing_newline"
	CauseLineEndings          = "line_endings"
	CauseTrailingData         = "trailing_data"
	CauseBodyBase64           = "body_base64"
	CauseBodyTruncated        = "body_truncated"
	CauseBodyNotJSON          = "body_not_json"
	CauseEmptyBody            = "empty_body"
	CauseSecretNotDecoded     = "secret_not_decoded"
	CauseSecretDecoded        = "secret_decoded"
	CauseSecretPrefixStripped = "secret_prefix_stripped"
	CauseSchemeMismatch       = "scheme_mismatch"
	CauseHexUppercase         = "hex_uppercase"
	CauseMissingPrefix        = "missing_prefix"
	CauseWrongEncoding        = "wrong_encoding"
	CauseOtherSecret          = "other_secret"
	CauseNoSecretMatched      = "no_secret_matched"
	CauseNoSecrets            = "no_secrets"
	CauseIncomplete           = "incomplete"
	CauseUnexplained          = "unexplained"
)

// Bounds on Diagnose's work.
const (
	// diagnoseHashBudget caps the bytes fed to HMAC over all attempts.
	diagnoseHashBudget = 256 << 20
	// maxRewriteBody is the largest body Diagnose re-serialises; larger
	// bodies get only the cheap rewrites (trailing newline, line endings).
	maxRewriteBody = 1 << 20
	// maxDiagnoseSecrets caps the secrets tried.
	maxDiagnoseSecrets = 16
)

// String renders the diagnosis for a terminal or a log, one finding a line.
func (d Diagnosis) String() string {
	var b strings.Builder
	scheme := string(d.Scheme)
	if scheme == "" {
		scheme = "none"
	}
	if d.OK {
		fmt.Fprintf(&b, "signature verifies (scheme %s)", scheme)
	} else {
		fmt.Fprintf(&b, "signature does not verify (scheme %s)", scheme)
	}
	for i, f := range d.Findings {
		fmt.Fprintf(&b, "\n%d. %s: %s", i+1, f.Cause, f.Message)
	}
	return b.String()
}

// Diagnose explains why a delivery does or does not verify. It is for
// debugging tools and failure logs, never the request path: it recomputes the
// signature over many plausible mistakes (a re-serialised or re-ordered body,
// changed escaping, an added or stripped newline, a truncated body, a secret
// used undecoded or decoded, the other scheme's signed content, upper-case hex,
// a missing prefix, a secret from another environment), and checks headers
// and the clock. Its work is bounded: at most 256 MiB hashed, and bodies over
// 1 MiB are not re-serialised.
//
// tolerance means what Config.Tolerance means: 0 for DefaultTolerance,
// negative to skip the timestamp check.
func Diagnose(h http.Header, body []byte, secrets []Secret, now time.Time, tolerance time.Duration) Diagnosis {
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	d := &diagnoser{h: h, body: body, now: now, tolerance: tolerance}
	// A signature under another naming whose id and timestamp are under
	// Sent's was renamed on the way: diagnosed as Sent's, which says so.
	if _, d.names = signatureHeaders(h); h.Get(d.names.ID) == "" && h.Get(d.names.Timestamp) == "" {
		d.names = &HeaderFamilies[0]
	}
	for i := range secrets {
		if !secrets[i].isZero() && len(d.secrets) < maxDiagnoseSecrets {
			d.secrets = append(d.secrets, indexedSecret{index: i, Secret: secrets[i]})
		}
	}
	return d.run()
}

type indexedSecret struct {
	Secret
	index int // in the caller's slice
}

func (s indexedSecret) name() string {
	return fmt.Sprintf("secrets[%d] (fp %s)", s.index, s.fp)
}

type diagnoser struct {
	h         http.Header
	body      []byte
	now       time.Time
	tolerance time.Duration
	secrets   []indexedSecret
	names     *HeaderNames // the naming of the signature header present

	verifyErr error
	scheme    Scheme
	certain   []Finding // header and clock findings, true whatever matched
	v1Header  []Finding // X-Webhook-Id/-Timestamp found only under another name
	targets   []target
	badTokens int

	id, ts      string
	hasTS       bool
	hashed      int
	incomplete  bool
	best        *sigMatch
	keys        []*keyCand
	seenBodies  map[[sha256.Size]byte]bool
	compact     []byte // nil unless the body is valid JSON
	compactDone bool
}

func (d *diagnoser) run() Diagnosis {
	if len(d.secrets) == 0 {
		return Diagnosis{Scheme: d.detectScheme(), Findings: []Finding{{CauseNoSecrets,
			"no secret given: nothing to check the signature against"}}}
	}
	if res, ok := d.verify(); ok {
		return d.advise(res)
	}
	if !d.readSignature() {
		return Diagnosis{Scheme: d.scheme, Findings: d.certain}
	}
	d.readV1Headers()
	if len(d.targets) > 0 {
		d.search()
	}
	return d.report()
}

// verify runs a real Verifier so that OK means exactly what Verify means.
func (d *diagnoser) verify() (Result, bool) {
	secs := make([]Secret, len(d.secrets))
	for i, s := range d.secrets {
		secs[i] = s.Secret
	}
	v, err := NewVerifier(Config{Secrets: secs, Tolerance: d.tolerance, NowFunc: func() time.Time { return d.now }})
	if err != nil {
		d.verifyErr = err
		return Result{}, false
	}
	res, err := v.Verify(d.h, d.body)
	if err != nil {
		d.verifyErr = err
		return res, false
	}
	res.SecretIndex = d.secrets[res.SecretIndex].index
	return res, true
}

// advise lists the warnings about a delivery that verifies.
func (d *diagnoser) advise(res Result) Diagnosis {
	diag := Diagnosis{OK: true, Scheme: res.Scheme}
	var matched, first indexedSecret
	for _, s := range d.secrets {
		if s.index == res.SecretIndex {
			matched = s
		}
	}
	first = d.secrets[0]
	if res.Scheme == Legacy && (d.h.Get(HeaderID) != "" || d.h.Get(HeaderTimestamp) != "" || matched.prefixed) {
		diag.Findings = append(diag.Findings, Finding{CauseSchemeMismatch, fmt.Sprintf(
			"the sender uses the superseded legacy scheme (sha256= over the body, no timestamp) with a v1-style "+
				"setup (%s headers or a whsec_ secret); it verifies only where legacy is allowed — switch the sender to v1",
			HeaderID)})
	}
	if res.SecretIndex != first.index {
		diag.Findings = append(diag.Findings, Finding{CauseOtherSecret, fmt.Sprintf(
			"the signature matches %s, not the first secret %s: expected while a rotation settles, "+
				"otherwise the sender holds another environment's secret (test/live)", matched.name(), first.name())})
	}
	return diag
}

// lookup reads a header even when the map was built with non-canonical keys.
func (d *diagnoser) lookup(name string) (values []string, key string) {
	if v, ok := d.h[name]; ok {
		return v, name
	}
	for k, v := range d.h {
		if strings.EqualFold(k, name) {
			return v, k
		}
	}
	return nil, ""
}

// Header names other senders or proxies use for the same things.
var (
	altSignatureHeaders = []string{"Webhook-Signature", "Svix-Signature", "X-Signature", "X-Hub-Signature-256", "Signature", "X-Sent-Signature"}
	altIDHeaders        = []string{"Webhook-Id", "Svix-Id"}
	altTimestampHeaders = []string{"Webhook-Timestamp", "Svix-Timestamp"}
)

// alts are the other names to look for a header under: not those of the
// naming the signature was found under, which are the right ones.
func (d *diagnoser) alts(names []string) []string {
	if d.names == &HeaderFamilies[0] {
		return names
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != d.names.Signature && n != d.names.ID && n != d.names.Timestamp {
			out = append(out, n)
		}
	}
	return out
}

// find returns a header's values and, when they were found only under a
// non-canonical key or another name, the finding that says so.
func (d *diagnoser) find(name string, alts []string, cause string) ([]string, *Finding) {
	if v := d.h.Values(name); len(v) > 0 {
		return v, nil
	}
	if v, key := d.lookup(name); len(v) > 0 {
		return v, &Finding{CauseHeaderCase, fmt.Sprintf(
			"%s is present only under the non-canonical key %q, which http.Header.Get does not find; "+
				"build headers with Header.Set or http.CanonicalHeaderKey", name, clip(key, 64))}
	}
	for _, alt := range alts {
		if v, key := d.lookup(alt); len(v) > 0 {
			return v, &Finding{cause, fmt.Sprintf(
				"no %s header, but %s is present: a proxy renamed it, or the sender follows another naming "+
					"(Standard Webhooks/Svix); Sent sends %s", name, clip(key, 64), name)}
		}
	}
	return nil, nil
}

// target is one signature from the header, decoded leniently.
type target struct {
	mac     [sha256.Size]byte
	scheme  Scheme // what the sender meant: from the prefix, or the encoding when bare
	problem string // "" or the cause of a formatting mistake
	message string
}

func (d *diagnoser) detectScheme() Scheme {
	values, _ := d.lookup(d.names.Signature)
	for _, val := range values {
		for tok := range tokens(clip(val, maxHeaderLen)) {
			switch {
			case strings.HasPrefix(tok, v1Prefix):
				return V1
			case strings.HasPrefix(tok, legacyPrefix):
				return Legacy
			}
		}
	}
	return ""
}

// readSignature parses the signature header into targets. It returns false
// when there is nothing to check.
func (d *diagnoser) readSignature() bool {
	values, f := d.find(d.names.Signature, d.alts(altSignatureHeaders), CauseMissingSignature)
	if f != nil {
		d.certain = append(d.certain, *f)
	}
	if len(values) == 0 {
		d.certain = append(d.certain, Finding{CauseMissingSignature, fmt.Sprintf(
			"no %s header: the request did not come from Sent, or a proxy dropped the header", d.names.Signature)})
		return false
	}
	n := 0
	for _, val := range values {
		if len(val) > maxHeaderLen {
			d.certain = append(d.certain, Finding{CauseMalformedSignature, fmt.Sprintf(
				"%s is %d bytes, over the %d-byte limit", d.names.Signature, len(val), maxHeaderLen)})
			val = val[:maxHeaderLen]
		}
		for tok := range tokens(val) {
			if n == maxSignatures {
				break
			}
			n++
			if t, ok := parseTarget(tok); ok {
				d.targets = append(d.targets, t)
			} else {
				d.badTokens++
			}
		}
	}
	for _, t := range d.targets {
		if t.scheme == V1 || d.scheme == "" {
			d.scheme = t.scheme
		}
	}
	if len(d.targets) == 0 {
		d.scheme = d.detectScheme()
		switch {
		case n == 0:
			d.certain = append(d.certain, Finding{CauseMissingSignature, d.names.Signature + " is empty"})
		case d.scheme != "":
			d.certain = append(d.certain, Finding{CauseMalformedSignature, fmt.Sprintf(
				"the %s signature does not decode to 32 bytes (v1 wants base64, legacy 64 hex digits): "+
					"it was cut short or mangled", d.scheme)})
		default:
			d.certain = append(d.certain, Finding{CauseUnknownScheme,
				`the signature is neither "v1,<base64>" nor "sha256=<hex>", nor bare hex or base64 of 32 bytes`})
		}
		return false
	}
	return true
}

func parseTarget(tok string) (target, bool) {
	var t target
	payload, prefix := tok, ""
	switch lower := strings.ToLower(tok); {
	case strings.HasPrefix(lower, v1Prefix):
		payload, prefix, t.scheme = tok[len(v1Prefix):], tok[:len(v1Prefix)], V1
	case strings.HasPrefix(lower, legacyPrefix):
		payload, prefix, t.scheme = tok[len(legacyPrefix):], tok[:len(legacyPrefix)], Legacy
	}
	isHex, upper := decodeAnyHex(&t.mac, payload)
	isB64 := !isHex && decodeV1Sig(&t.mac, payload)
	switch {
	case !isHex && !isB64:
		return t, false
	case prefix == "" && isHex:
		t.scheme, t.problem = Legacy, CauseMissingPrefix
		t.message = `the signature is bare hex: the "sha256=" prefix is missing`
	case prefix == "":
		t.scheme, t.problem = V1, CauseMissingPrefix
		t.message = `the signature is bare base64: the "v1," prefix is missing`
	case t.scheme == V1 && isHex:
		t.problem = CauseWrongEncoding
		t.message = `the v1 signature is hex; v1 wants standard base64 after "v1,"`
	case t.scheme == Legacy && isB64:
		t.problem = CauseWrongEncoding
		t.message = `the legacy signature is base64; legacy wants lowercase hex after "sha256="`
	case prefix != v1Prefix && prefix != legacyPrefix:
		t.problem = CauseMissingPrefix
		t.message = fmt.Sprintf("the prefix is %q; it must be %q, in lower case", prefix, strings.ToLower(prefix))
	case upper:
		t.problem = CauseHexUppercase
		t.message = "the hex digest is upper case; the legacy scheme sends lowercase hex"
	}
	return t, true
}

// decodeAnyHex decodes 64 hex digits of either case.
func decodeAnyHex(dst *[sha256.Size]byte, s string) (ok, upper bool) {
	if len(s) != 2*sha256.Size {
		return false, false
	}
	if _, err := hex.Decode(dst[:], []byte(s)); err != nil {
		return false, false
	}
	return true, strings.ToLower(s) != s
}

// readV1Headers checks X-Webhook-Id and X-Webhook-Timestamp when the
// signature is v1.
func (d *diagnoser) readV1Headers() {
	v, f := d.find(d.names.ID, d.alts(altIDHeaders), CauseMissingID)
	if len(v) > 0 {
		d.id = v[0]
	}
	if f != nil {
		d.v1Header = append(d.v1Header, *f)
	}
	v, f = d.find(d.names.Timestamp, d.alts(altTimestampHeaders), CauseMissingTimestamp)
	if len(v) > 0 {
		d.ts, d.hasTS = v[0], f == nil
	}
	if f != nil {
		d.v1Header = append(d.v1Header, *f)
	}
}

// v1Findings are the header and clock findings for a v1 signature.
func (d *diagnoser) v1Findings() []Finding {
	fs := d.v1Header
	switch {
	case d.id == "":
		fs = append(fs, Finding{CauseMissingID, fmt.Sprintf(
			"no %s header: v1 signs \"{id}.{timestamp}.{body}\" and cannot be checked without it", d.names.ID)})
	case len(d.id) > maxIDLen:
		fs = append(fs, Finding{CauseMissingID, fmt.Sprintf("%s is %d bytes, over the %d-byte limit", d.names.ID, len(d.id), maxIDLen)})
	}
	if d.ts == "" {
		return append(fs, Finding{CauseMissingTimestamp, fmt.Sprintf(
			"no %s header: v1 signs \"{id}.{timestamp}.{body}\" and cannot be checked without it", d.names.Timestamp)})
	}
	if !d.hasTS {
		return fs
	}
	unix, ok := parseUnix(d.ts)
	if !ok {
		return append(fs, Finding{CauseMalformedTimestamp, fmt.Sprintf("%s %q is not Unix seconds%s",
			d.names.Timestamp, clip(d.ts, 40), timestampHint(d.ts))})
	}
	if d.tolerance < 0 {
		return fs
	}
	if len(d.ts) >= 13 {
		if ms := d.now.Sub(time.UnixMilli(unix)); ms < d.tolerance && ms > -d.tolerance {
			return append(fs, Finding{CauseTimestampMillis, fmt.Sprintf(
				"%s has %d digits and is close to now in milliseconds: send Unix seconds", d.names.Timestamp, len(d.ts))})
		}
	}
	ts := time.Unix(unix, 0)
	age, secs := d.now.Sub(ts), d.now.Unix()-unix
	tol := int64(d.tolerance / time.Second)
	switch {
	case age > d.tolerance:
		fs = append(fs, Finding{CauseStaleTimestamp, fmt.Sprintf(
			"%s is %ds old, tolerance %ds: the delivery was held or replayed (Sent re-signs retries with a fresh "+
				"timestamp), or this host's clock is ahead of the sender's by at least %ds — check NTP",
			d.names.Timestamp, secs, tol, secs-tol)})
	case age < -d.tolerance:
		fs = append(fs, Finding{CauseFutureTimestamp, fmt.Sprintf(
			"%s is %ds in the future, tolerance %ds: the sender's clock is ahead of this host's (or this host's "+
				"is behind) by at least %ds — check NTP",
			d.names.Timestamp, -secs, tol, -secs-tol)})
	}
	return fs
}

func timestampHint(ts string) string {
	switch {
	case strings.ContainsAny(ts, "T:") && strings.Contains(ts, "-"):
		return " (it looks like an ISO-8601 date)"
	case strings.Contains(ts, "."):
		if _, err := strconv.ParseFloat(ts, 64); err == nil {
			return " (it has a fractional part)"
		}
	case strings.TrimSpace(ts) != ts:
		return " (it has surrounding white space)"
	}
	return ""
}

// Search.

type keyKind int

const (
	keyV1       keyKind = iota // base64-decoded secret
	keyText                    // the secret's text as is
	keyStripped                // the text after whsec_, not decoded
)

type keyCand struct {
	sec  indexedSecret
	kind keyKind
	mac  hash.Hash
}

type framing int

const (
	frameV1   framing = iota // "{id}.{timestamp}.{body}"
	frameBody                // the body alone
)

type sigMatch struct {
	cost    int
	variant *variant
	frame   framing
	key     *keyCand
	target  *target
}

// expected reports whether k is a key Verify would use for scheme s.
func (k *keyCand) expected(s Scheme) bool {
	if s == Legacy {
		return k.kind == keyText
	}
	return k.kind == keyV1 || (k.kind == keyText && !k.sec.prefixed)
}

// keyExpected reports whether the key fits the scheme of the signature's
// format or that of the content signed: a sender that computed v1 content with
// the v1 key but sent it as sha256= made one mistake, not two.
func (m *sigMatch) keyExpected() bool {
	frameScheme := V1
	if m.frame == frameBody {
		frameScheme = Legacy
	}
	return m.key.expected(m.target.scheme) || m.key.expected(frameScheme)
}

func (d *diagnoser) buildKeys() {
	for _, s := range d.secrets {
		var seen [][]byte
		add := func(kind keyKind, key []byte) {
			for _, k := range seen {
				if bytes.Equal(k, key) {
					return
				}
			}
			seen = append(seen, key)
			d.keys = append(d.keys, &keyCand{sec: s, kind: kind, mac: hmac.New(sha256.New, key)})
		}
		if s.prefixed {
			add(keyV1, s.v1Key)
			add(keyText, []byte(s.text))
			add(keyStripped, []byte(strings.TrimPrefix(s.text, SecretPrefix)))
		} else {
			add(keyText, []byte(s.text))
			if key, ok := decodeBase64(s.text); ok && len(key) > 0 {
				add(keyV1, key)
			}
		}
	}
}

func (d *diagnoser) search() {
	d.buildKeys()
	d.seenBodies = make(map[[sha256.Size]byte]bool)
	prefix := []byte(d.id + "." + d.ts + ".")
	var sum [sha256.Size]byte
	for i := range variants {
		v := &variants[i]
		if d.best != nil && d.best.cost <= v.cost {
			return
		}
		vb := v.fn(d)
		if vb == nil {
			continue
		}
		h := sha256.Sum256(vb)
		if d.seenBodies[h] {
			continue
		}
		d.seenBodies[h] = true
		for _, frame := range []framing{frameV1, frameBody} {
			for _, k := range d.keys {
				n := len(vb) + 2*sha256.BlockSize
				if frame == frameV1 {
					n += len(prefix)
				}
				if d.hashed+n > diagnoseHashBudget {
					d.incomplete = true
					return
				}
				d.hashed += n
				k.mac.Reset()
				if frame == frameV1 {
					k.mac.Write(prefix)
				}
				k.mac.Write(vb)
				k.mac.Sum(sum[:0])
				for ti := range d.targets {
					t := &d.targets[ti]
					if !hmac.Equal(sum[:], t.mac[:]) {
						continue
					}
					m := &sigMatch{cost: v.cost, variant: v, frame: frame, key: k, target: t}
					if (frame == frameV1) != (t.scheme == V1) {
						m.cost++
					}
					if !m.keyExpected() {
						m.cost++
					}
					if t.problem != "" {
						m.cost++
					}
					if d.best == nil || m.cost < d.best.cost {
						d.best = m
					}
				}
			}
		}
	}
}

func (d *diagnoser) report() Diagnosis {
	diag := Diagnosis{Scheme: d.scheme}
	v1 := d.scheme == V1
	if m := d.best; m != nil {
		diag.Scheme = m.target.scheme
		v1 = m.frame == frameV1 || m.target.scheme == V1
		diag.Findings = d.matchFindings(m)
	}
	if v1 {
		d.certain = append(d.certain, d.v1Findings()...)
	}
	diag.Findings = append(diag.Findings, d.certain...)
	if d.best != nil {
		if len(diag.Findings) == 0 {
			diag.Findings = append(diag.Findings, Finding{CauseUnexplained, fmt.Sprintf(
				"the signature matches with the delivery as received, yet verification failed: %v", d.verifyErr)})
		}
		diag.Findings[0].Message += fmt.Sprintf(" [the signature matches %s]", d.best.key.sec.name())
		return diag
	}
	diag.Findings = append(diag.Findings, d.bodyFindings()...)
	if d.incomplete {
		diag.Findings = append(diag.Findings, Finding{CauseIncomplete, fmt.Sprintf(
			"stopped after hashing %d MiB: not every variant of this large body was tried", diagnoseHashBudget>>20)})
	}
	fps := make([]string, len(d.secrets))
	for i, s := range d.secrets {
		fps[i] = s.name()
	}
	diag.Findings = append(diag.Findings, Finding{CauseNoSecretMatched, fmt.Sprintf(
		"no configured secret matched — is the secret from another environment (test/live)? Tried %s, "+
			"raw and base64-decoded, over the body as received and %d rewritten variants",
		strings.Join(fps, ", "), len(d.seenBodies)-1)})
	return diag
}

// matchFindings turns each way the matching attempt departs from the
// protocol into a finding.
func (d *diagnoser) matchFindings(m *sigMatch) []Finding {
	var fs []Finding
	if m.variant.cause != "" {
		fs = append(fs, Finding{m.variant.cause, m.variant.message(d)})
	}
	switch {
	case m.target.scheme == V1 && m.frame == frameBody:
		fs = append(fs, Finding{CauseSchemeMismatch, fmt.Sprintf(
			"the v1 signature is an HMAC over the body alone, without \"{%s}.{%s}.\" in front: the sender "+
				"signs as the legacy scheme does but labels it v1", HeaderID, HeaderTimestamp)})
	case m.target.scheme == Legacy && m.frame == frameV1:
		fs = append(fs, Finding{CauseSchemeMismatch,
			"the sha256= signature covers \"{id}.{timestamp}.{body}\": the sender computes v1 content but " +
				"sends it in the legacy format (it should send \"v1,<base64>\")"})
	}
	if !m.keyExpected() {
		fs = append(fs, keyFinding(m.key, m.target.scheme))
	}
	if m.target.problem != "" {
		fs = append(fs, Finding{m.target.problem, m.target.message})
	}
	return fs
}

func keyFinding(k *keyCand, s Scheme) Finding {
	switch {
	case s == Legacy && k.kind == keyV1:
		return Finding{CauseSecretDecoded, fmt.Sprintf(
			"the sender base64-decoded %s; the legacy scheme keys the HMAC with the secret's text as is", k.sec.name())}
	case s == Legacy && k.kind == keyStripped:
		return Finding{CauseSecretPrefixStripped, fmt.Sprintf(
			"the sender dropped %q from %s; the legacy scheme keys the HMAC with the whole text", SecretPrefix, k.sec.name())}
	case k.kind == keyStripped:
		return Finding{CauseSecretNotDecoded, fmt.Sprintf(
			"the sender used the text after %q of %s as the key without base64-decoding it", SecretPrefix, k.sec.name())}
	default:
		return Finding{CauseSecretNotDecoded, fmt.Sprintf(
			"the sender used %s as raw text, %q included, instead of base64-decoding the part after the prefix",
			k.sec.name(), SecretPrefix)}
	}
}

// bodyFindings are guesses about the body when nothing matched.
func (d *diagnoser) bodyFindings() []Finding {
	var fs []Finding
	body := d.body
	var clNote string
	if cl, err := strconv.Atoi(d.h.Get("Content-Length")); err == nil && cl > len(body) {
		clNote = fmt.Sprintf(" (Content-Length says %d)", cl)
		if json.Valid(body) {
			fs = append(fs, Finding{CauseBodyTruncated, fmt.Sprintf(
				"Content-Length is %d but %d bytes were read: the body was cut short (a size limit or a short read)", cl, len(body))})
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return append(fs, Finding{CauseEmptyBody, "the body is empty: it was consumed before verification (read it once, keep the bytes)"})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	err := dec.Decode(&raw)
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		fs = append(fs, Finding{CauseBodyTruncated, fmt.Sprintf(
			"the body ends abruptly after %d bytes%s, inside the JSON value: it was truncated (a size limit, a "+
				"short read, a log line cut off); the signature covers the whole body", len(body), clNote)})
	case errors.As(err, &syn):
		msg := fmt.Sprintf("the body is not JSON (syntax error at byte %d); Sent sends JSON", syn.Offset)
		if b, ok := decodeBase64(string(bytes.TrimSpace(body))); ok && json.Valid(b) {
			fs = append(fs, Finding{CauseBodyBase64, "the body is base64-encoded JSON (serverless platforms do this): decode it before verifying"})
		} else {
			fs = append(fs, Finding{CauseBodyNotJSON, msg + ": was it re-encoded (form, base64, compression) on the way?"})
		}
	case err == nil && len(bytes.TrimSpace(body[dec.InputOffset():])) > 0:
		fs = append(fs, Finding{CauseTrailingData, fmt.Sprintf(
			"%d bytes follow the JSON value: something appended to the body", len(body)-int(dec.InputOffset()))})
	case err == nil && len(body) <= maxRewriteBody && keysLookSorted(d.compactBody()):
		fs = append(fs, Finding{CauseBodyKeysReordered,
			"every object's keys are in sorted order, which Sent does not send: the body was probably decoded and " +
				"re-encoded (a map, sort_keys, jsonb) before verification; verify the raw bytes"})
	}
	return fs
}

func (d *diagnoser) compactBody() []byte {
	if !d.compactDone {
		d.compactDone = true
		if len(d.body) <= maxRewriteBody && json.Valid(d.body) {
			d.compact = jsonform.Compact(d.body)
		}
	}
	return d.compact
}

// variant is one guess at how the signed body differs from the received one.
// fn returns the guessed signed body, or nil when the guess does not apply.
type variant struct {
	cost  int
	cause string
	msg   string
	fn    func(d *diagnoser) []byte
}

func (v *variant) message(d *diagnoser) string {
	if v.cause == CauseTrailingData {
		dec := json.NewDecoder(bytes.NewReader(d.body))
		var raw json.RawMessage
		if dec.Decode(&raw) == nil {
			return fmt.Sprintf(v.msg, len(d.body)-int(dec.InputOffset()))
		}
	}
	return v.msg
}

// onJSON adapts a rewrite of valid, compact JSON.
func onJSON(f func(compact []byte) []byte) func(d *diagnoser) []byte {
	return func(d *diagnoser) []byte {
		c := d.compactBody()
		if c == nil {
			return nil
		}
		return f(c)
	}
}

// onValidBody adapts a rewrite of the body as received, if it is valid JSON.
func onValidBody(f func(body []byte) []byte) func(d *diagnoser) []byte {
	return func(d *diagnoser) []byte {
		if d.compactBody() == nil {
			return nil
		}
		return f(d.body)
	}
}

func reorder(f func(*jsonNode), indent string) func(compact []byte) []byte {
	return func(compact []byte) []byte {
		n := parseCompact(compact)
		if n == nil {
			return nil
		}
		f(n)
		out := n.appendTo(nil)
		if indent != "" {
			return jsonform.Indent(out, indent)
		}
		return out
	}
}

func withSuffix(f func([]byte) []byte, suffix string) func([]byte) []byte {
	return func(b []byte) []byte {
		if out := f(b); out != nil {
			return append(out, suffix...)
		}
		return nil
	}
}

func trimSuffixOnly(suffix, not string) func(d *diagnoser) []byte {
	return func(d *diagnoser) []byte {
		if !bytes.HasSuffix(d.body, []byte(suffix)) || (not != "" && bytes.HasSuffix(d.body, []byte(not))) {
			return nil
		}
		return d.body[:len(d.body)-len(suffix)]
	}
}

func appendSuffix(suffix string) func(d *diagnoser) []byte {
	return func(d *diagnoser) []byte {
		return append(bytes.Clone(d.body), suffix...)
	}
}

// variants in the order tried: cheapest explanation first.
var variants = []variant{
	{0, "", "", func(d *diagnoser) []byte { return d.body }},

	{1, CauseTrailingNewline, "a trailing newline was added to the body after it was signed (by a proxy, a logger or the capture tool)",
		trimSuffixOnly("\n", "\r\n")},
	{1, CauseTrailingNewline, "a trailing CRLF was added to the body after it was signed",
		trimSuffixOnly("\r\n", "")},
	{1, CauseTrailingNewline, "trailing white space was added to the body after it was signed",
		func(d *diagnoser) []byte { return bytes.TrimRight(d.body, " \t\r\n") }},
	{1, CauseTrailingNewline, "the body's trailing newline was stripped after it was signed",
		appendSuffix("\n")},
	{1, CauseTrailingNewline, "the body's trailing CRLF was stripped after it was signed",
		appendSuffix("\r\n")},
	{1, CauseLineEndings, "the body's line endings were converted from LF to CRLF after it was signed",
		func(d *diagnoser) []byte {
			if !bytes.Contains(d.body, []byte("\r\n")) {
				return nil
			}
			return bytes.ReplaceAll(d.body, []byte("\r\n"), []byte("\n"))
		}},
	{1, CauseLineEndings, "the body's line endings were converted from CRLF to LF after it was signed",
		func(d *diagnoser) []byte {
			if !bytes.Contains(d.body, []byte("\n")) || bytes.Contains(d.body, []byte("\r")) {
				return nil
			}
			return bytes.ReplaceAll(d.body, []byte("\n"), []byte("\r\n"))
		}},

	{1, CauseBodyReformatted, "the body was re-serialised: the sender signed compact JSON, it arrived re-formatted; verify the raw bytes before any JSON parsing",
		onJSON(func(c []byte) []byte { return c })},
	{1, CauseBodyReformatted, "the body was re-serialised: the sender signed JSON pretty-printed with 2 spaces, it arrived formatted differently; verify the raw bytes before any JSON parsing",
		onJSON(func(c []byte) []byte { return jsonform.Indent(c, "  ") })},
	{1, CauseBodyReformatted, "the body was re-serialised: the sender signed JSON pretty-printed with tabs, it arrived formatted differently; verify the raw bytes before any JSON parsing",
		onJSON(func(c []byte) []byte { return jsonform.Indent(c, "\t") })},
	{1, CauseBodyReformatted, "the body was re-serialised: the sender signed JSON pretty-printed with 4 spaces, it arrived formatted differently; verify the raw bytes before any JSON parsing",
		onJSON(func(c []byte) []byte { return jsonform.Indent(c, "    ") })},
	{1, CauseBodyReformatted, `the body was re-serialised: the sender signed JSON with ", " and ": " separators (Python's json.dumps default), it arrived formatted differently`,
		onJSON(func(c []byte) []byte { return jsonform.Respace(c, ", ", ": ") })},

	{1, CauseBodyEscaping, `the body's escaping changed: the signed body had plain characters where the received one has \u escapes (non-ASCII, or <, > and & as Go escapes them, or \/) — something decoded and re-encoded the JSON`,
		onValidBody(unescapeJSON)},
	{1, CauseBodyEscaping, `the body's escaping changed: the signed body had non-ASCII characters escaped as \uXXXX, the received one has them as UTF-8 — something decoded and re-encoded the JSON`,
		onValidBody(escapeNonASCII)},
	{1, CauseBodyEscaping, `the body's escaping changed: the signed body had <, > and & escaped as \u003c, \u003e and \u0026, the received one has them plain — something decoded and re-encoded the JSON`,
		onValidBody(escapeHTML)},
	{1, CauseBodyEscaping, `the body's escaping changed: the signed body had / escaped as \/, the received one has it plain`,
		onValidBody(escapeSlash)},

	{1, CauseBodyKeysReordered, "the body's keys were re-ordered: the sender signed them in Sent's order, they arrived sorted or shuffled — something decoded and re-encoded the JSON (a map, sort_keys, jsonb)",
		onJSON(reorder((*jsonNode).sentOrder, ""))},
	{1, CauseBodyKeysReordered, "the body's keys were re-ordered: the sender signed them sorted, they arrived in another order",
		onJSON(reorder((*jsonNode).sortKeys, ""))},

	{1, CauseTrailingData, "%d bytes after the JSON value were not signed: something appended them to the body",
		func(d *diagnoser) []byte {
			dec := json.NewDecoder(bytes.NewReader(d.body))
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return nil
			}
			n := int(dec.InputOffset())
			if len(bytes.TrimSpace(d.body[n:])) == 0 {
				return nil
			}
			return d.body[:n]
		}},
	{1, CauseBodyBase64, "the body arrived base64-encoded (serverless platforms do this); the signature covers the decoded bytes — decode before verifying",
		func(d *diagnoser) []byte {
			if len(d.body) > 2*maxRewriteBody {
				return nil
			}
			b, ok := decodeBase64(string(bytes.TrimSpace(d.body)))
			if !ok || len(b) == 0 {
				return nil
			}
			return b
		}},

	{2, CauseBodyReformatted, "the body was re-serialised: the sender signed JSON pretty-printed with 2 spaces and a final newline, it arrived formatted differently",
		onJSON(withSuffix(func(c []byte) []byte { return jsonform.Indent(c, "  ") }, "\n"))},
	{2, CauseBodyReformatted, "the body was re-serialised: the sender signed JSON pretty-printed with tabs and a final newline, it arrived formatted differently",
		onJSON(withSuffix(func(c []byte) []byte { return jsonform.Indent(c, "\t") }, "\n"))},
	{2, CauseBodyReformatted, `the body was re-serialised: the sender signed Python json.dumps output (", "/": " separators, non-ASCII as \uXXXX), it arrived formatted differently`,
		onJSON(func(c []byte) []byte { return escapeNonASCII(jsonform.Respace(c, ", ", ": ")) })},
	{2, CauseBodyKeysReordered, "the body's keys were re-ordered and re-indented: the sender signed them in Sent's order, pretty-printed with 2 spaces",
		onJSON(reorder((*jsonNode).sentOrder, "  "))},
	{2, CauseBodyKeysReordered, "the body's keys were re-ordered and re-indented: the sender signed them sorted, pretty-printed with 2 spaces",
		onJSON(reorder((*jsonNode).sortKeys, "  "))},
}
