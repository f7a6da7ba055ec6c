package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Verifier.
type Config struct {
	// Secrets are the signing secrets currently accepted. Keep the old and the
	// new one here while a rotation settles; Result.SecretIndex says which one
	// matched.
	//
	// Required.
	Secrets []Secret

	// Tolerance is how far X-Webhook-Timestamp may be from NowFunc(), in either
	// direction, for a v1 delivery. A negative value disables the check (the
	// timestamp must still be present and numeric, since it is signed).
	//
	// Defaults to DefaultTolerance.
	Tolerance time.Duration

	// Schemes are the schemes accepted. A delivery signed with another one
	// fails with ErrSchemeNotAllowed.
	//
	// Defaults to both V1 and Legacy.
	Schemes []Scheme

	// NowFunc returns the current time. Tests pass a frozen clock.
	//
	// Defaults to time.Now.
	NowFunc func() time.Time
}

// Verifier checks delivery signatures. It is safe for concurrent use.
type Verifier struct {
	tolerance   time.Duration
	allowV1     bool
	allowLegacy bool
	now         func() time.Time
	v1Keys      []*macKey
	legacyKeys  []*macKey
	nsecrets    int
}

// Result describes a verified delivery.
type Result struct {
	// Scheme is the scheme of the signature that matched.
	Scheme Scheme

	// SecretIndex is the index in Config.Secrets of the secret that matched;
	// -1 when Verify returns an error.
	SecretIndex int

	// WebhookID is X-Webhook-Id (v1 only). Per Sent's documentation it names
	// the webhook endpoint, not the event: deduplicate on X-Webhook-Event-Id.
	WebhookID string

	// Timestamp is X-Webhook-Timestamp (v1 only); zero for legacy.
	Timestamp time.Time
}

// NewVerifier validates cfg, applies its defaults and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("signature: Config.Secrets is required")
	}
	v := &Verifier{
		tolerance: cfg.Tolerance,
		now:       cfg.NowFunc,
		nsecrets:  len(cfg.Secrets),
	}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.now == nil {
		v.now = time.Now
	}
	if len(cfg.Schemes) == 0 {
		v.allowV1, v.allowLegacy = true, true
	}
	for _, s := range cfg.Schemes {
		switch s {
		case V1:
			v.allowV1 = true
		case Legacy:
			v.allowLegacy = true
		default:
			return nil, fmt.Errorf("signature: Config.Schemes: unknown scheme %q", clip(string(s), 32))
		}
	}
	for i, sec := range cfg.Secrets {
		if sec.isZero() {
			return nil, fmt.Errorf("signature: Config.Secrets[%d] is the zero Secret; build secrets with ParseSecret", i)
		}
		for _, key := range sec.v1Keys() {
			v.v1Keys = append(v.v1Keys, newMACKey(i, key))
		}
		v.legacyKeys = append(v.legacyKeys, newMACKey(i, sec.LegacyKey()))
	}
	return v, nil
}

// Verify checks the signature of one delivery: h are its headers and body its
// raw bytes, exactly as received, before any JSON parsing.
//
// When the signature header holds both v1 and legacy signatures, v1 wins if
// allowed. For v1 the timestamp is checked before any HMAC is computed. On
// failure the error is a *VerifyError wrapping one of the ErrXxx sentinels,
// and the Result carries what could be read (Scheme, WebhookID, Timestamp)
// with SecretIndex -1, for logging.
//
// Verify does no allocation on success beyond the Result; call Diagnose, off
// the request path, to find out why a delivery failed.
func (v *Verifier) Verify(h http.Header, body []byte) (Result, error) {
	res := Result{SecretIndex: -1}
	values, names := signatureHeaders(h)
	var sawV1, sawLegacy, sawAny bool
	for _, val := range values {
		if len(val) > maxHeaderLen {
			return res, verifyErr(ErrMalformed, "%s is %d bytes, limit %d", names.Signature, len(val), maxHeaderLen)
		}
		for tok := range tokens(val) {
			sawAny = true
			switch {
			case strings.HasPrefix(tok, v1Prefix):
				sawV1 = true
			case strings.HasPrefix(tok, legacyPrefix):
				sawLegacy = true
			}
		}
	}
	switch {
	case !sawAny:
		return res, &VerifyError{Reason: ErrMissingSignature, Detail: "no " + HeaderSignature + " header"}
	case sawV1 && v.allowV1:
		res.Scheme = V1
		return v.verifyV1(h, names, values, body, res)
	case sawLegacy && v.allowLegacy:
		res.Scheme = Legacy
		return v.verifyLegacy(values, body, res)
	case sawV1:
		res.Scheme = V1
		return res, &VerifyError{Reason: ErrSchemeNotAllowed, Detail: "v1 signature, only legacy is accepted"}
	case sawLegacy:
		res.Scheme = Legacy
		return res, &VerifyError{Reason: ErrSchemeNotAllowed, Detail: "legacy signature, only v1 is accepted"}
	}
	return res, &VerifyError{Reason: ErrUnknownScheme, Detail: `want "v1,<base64>" or "sha256=<hex>"`}
}

// HeaderNames are one naming of the v1 headers. The scheme is the same
// under each: Sent's X-Webhook-*, the Standard Webhooks specification's
// webhook-* and Svix's svix-* (net/http canonicalises them to
// Webhook-Signature and Svix-Signature).
type HeaderNames struct{ Signature, ID, Timestamp string }

// HeaderFamilies are the namings Verify reads, in the order it looks for
// the signature header: Sent's first, then Standard Webhooks', then Svix's.
// The ID and timestamp are read under the naming of the signature found.
var HeaderFamilies = [...]HeaderNames{
	{HeaderSignature, HeaderID, HeaderTimestamp},
	{"Webhook-Signature", "Webhook-Id", "Webhook-Timestamp"},
	{"Svix-Signature", "Svix-Id", "Svix-Timestamp"},
}

// signatureHeaders returns the values of the first signature header of
// HeaderFamilies that is present, and its naming; Sent's naming when none
// is.
func signatureHeaders(h http.Header) ([]string, *HeaderNames) {
	for i := range HeaderFamilies {
		if v := h[HeaderFamilies[i].Signature]; len(v) > 0 {
			return v, &HeaderFamilies[i]
		}
	}
	return nil, &HeaderFamilies[0]
}

const (
	v1Prefix     = "v1,"
	legacyPrefix = "sha256="
)

func (v *Verifier) verifyV1(h http.Header, names *HeaderNames, values []string, body []byte, res Result) (Result, error) {
	id := h.Get(names.ID)
	switch {
	case id == "":
		return res, &VerifyError{Reason: ErrMalformed, Detail: "v1 signature without " + names.ID}
	case len(id) > maxIDLen:
		return res, verifyErr(ErrMalformed, "%s is %d bytes, limit %d", names.ID, len(id), maxIDLen)
	}
	res.WebhookID = id

	ts := h.Get(names.Timestamp)
	if ts == "" {
		return res, &VerifyError{Reason: ErrMissingTimestamp, Detail: "v1 signature without " + names.Timestamp}
	}
	unix, ok := parseUnix(ts)
	if !ok {
		return res, &VerifyError{Reason: ErrMalformed, Detail: names.Timestamp + " is not Unix seconds"}
	}
	res.Timestamp = time.Unix(unix, 0)
	if err := checkTimestamp(res.Timestamp, v.now(), v.tolerance); err != nil {
		return res, err
	}

	var sigs [maxSignatures][sha256.Size]byte
	n, ignored := collectSignatures(&sigs, values, V1)
	if n == 0 {
		return res, &VerifyError{Reason: ErrMalformed, Detail: "v1 signature is not base64 of 32 bytes"}
	}

	for _, k := range v.v1Keys {
		st := k.get()
		st.scratch = append(st.scratch[:0], id...)
		st.scratch = append(st.scratch, '.')
		st.scratch = append(st.scratch, ts...)
		st.scratch = append(st.scratch, '.')
		st.h.Write(st.scratch)
		st.h.Write(body)
		sum := st.h.Sum(st.sum[:0])
		matched := anyEqual(sum, sigs[:n])
		k.put(st)
		if matched {
			res.SecretIndex = k.secret
			return res, nil
		}
	}
	return res, verifyErr(ErrNoMatch, "%s checked against %s%s", counted(n, "v1 signature"), counted(v.nsecrets, "secret"), ignoredNote(ignored))
}

func (v *Verifier) verifyLegacy(values []string, body []byte, res Result) (Result, error) {
	var sigs [maxSignatures][sha256.Size]byte
	n, ignored := collectSignatures(&sigs, values, Legacy)
	if n == 0 {
		return res, &VerifyError{Reason: ErrMalformed, Detail: "legacy signature is not 64 lowercase hex digits"}
	}
	for _, k := range v.legacyKeys {
		st := k.get()
		st.h.Write(body)
		sum := st.h.Sum(st.sum[:0])
		matched := anyEqual(sum, sigs[:n])
		k.put(st)
		if matched {
			res.SecretIndex = k.secret
			return res, nil
		}
	}
	return res, verifyErr(ErrNoMatch, "%s checked against %s%s", counted(n, "legacy signature"), counted(v.nsecrets, "secret"), ignoredNote(ignored))
}

// ignoredNote says how many signatures past the bound were not checked.
func ignoredNote(ignored int) string {
	if ignored == 0 {
		return ""
	}
	return fmt.Sprintf("; %d more ignored (at most %d are checked)", ignored, maxSignatures)
}

// counted is "1 secret" or "2 secrets".
func counted(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// collectSignatures decodes into sigs the first maxSignatures tokens of
// the header values that are well-formed signatures of scheme, says how
// many, and counts the tokens of scheme after them, which are ignored: not
// decoded, not compared. (The decoders are called directly, not through a
// func value, so that sigs stays on the caller's stack.)
func collectSignatures(sigs *[maxSignatures][sha256.Size]byte, values []string, scheme Scheme) (n, ignored int) {
	prefix := v1Prefix
	if scheme == Legacy {
		prefix = legacyPrefix
	}
	for _, val := range values {
		for tok := range tokens(val) {
			if n == maxSignatures {
				if strings.HasPrefix(tok, prefix) {
					ignored++
				}
				continue
			}
			rest, ok := strings.CutPrefix(tok, prefix)
			if ok && scheme == Legacy {
				ok = decodeLowerHex(&sigs[n], rest)
			} else if ok {
				ok = decodeV1Sig(&sigs[n], rest)
			}
			if ok {
				n++
			}
		}
	}
	return n, ignored
}

// anyEqual compares sum with every signature, in constant time each, and
// without stopping at the first match.
func anyEqual(sum []byte, sigs [][sha256.Size]byte) bool {
	matched := false
	for i := range sigs {
		if hmac.Equal(sum, sigs[i][:]) {
			matched = true
		}
	}
	return matched
}

// checkTimestamp compares a v1 timestamp with now; a negative tolerance
// disables the check.
func checkTimestamp(ts, now time.Time, tolerance time.Duration) *VerifyError {
	if tolerance < 0 {
		return nil
	}
	age := now.Sub(ts) // saturates instead of overflowing: fine to compare
	switch {
	case age > tolerance:
		return verifyErr(ErrStaleTimestamp, "%ds old, tolerance %s", now.Unix()-ts.Unix(), seconds(tolerance))
	case age < -tolerance:
		return verifyErr(ErrFutureTimestamp, "%ds ahead, tolerance %s", ts.Unix()-now.Unix(), seconds(tolerance))
	}
	return nil
}

// seconds formats a tolerance in whole seconds ("300s"), the unit of the
// timestamp.
func seconds(d time.Duration) string {
	return fmt.Sprintf("%ds", int64(d/time.Second))
}

// parseUnix parses X-Webhook-Timestamp: 1 to 18 ASCII digits, nothing else.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// tokens yields the space-separated tokens of a header value.
func tokens(val string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for len(val) > 0 {
			i := strings.IndexAny(val, " \t")
			if i < 0 {
				yield(val)
				return
			}
			if i > 0 && !yield(val[:i]) {
				return
			}
			val = val[i+1:]
		}
	}
}

// decodeV1Sig decodes the base64 of a v1 signature (standard or URL alphabet,
// padding optional) into dst. It is false unless that is exactly 32 bytes.
func decodeV1Sig(dst *[sha256.Size]byte, s string) bool {
	const encLen = (sha256.Size*8 + 5) / 6 // 43 characters without padding
	for range 2 {
		s = strings.TrimSuffix(s, "=")
	}
	if len(s) != encLen {
		return false
	}
	var src [encLen]byte // on the stack: converting s would allocate
	copy(src[:], s)
	if n, err := base64.RawStdEncoding.Decode(dst[:], src[:]); err == nil && n == sha256.Size {
		return true
	}
	n, err := base64.RawURLEncoding.Decode(dst[:], src[:])
	return err == nil && n == sha256.Size
}

// decodeLowerHex decodes exactly 64 lowercase hex digits into dst. Upper case
// is refused: the legacy scheme specifies lowercase, and Diagnose reports it.
func decodeLowerHex(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range sha256.Size {
		hi, ok1 := lowerHexVal(s[2*i])
		lo, ok2 := lowerHexVal(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// macKey holds one HMAC key and a pool of hash states for it, so that Verify
// does not allocate a new HMAC per call.
type macKey struct {
	secret int
	pool   sync.Pool
}

type macState struct {
	h       hash.Hash
	sum     [sha256.Size]byte
	scratch []byte
}

func newMACKey(secret int, key []byte) *macKey {
	k := &macKey{secret: secret}
	key = clone(key)
	k.pool.New = func() any {
		return &macState{h: hmac.New(sha256.New, key), scratch: make([]byte, 0, 64)}
	}
	return k
}

func (k *macKey) get() *macState {
	st := k.pool.Get().(*macState)
	st.h.Reset()
	return st
}

func (k *macKey) put(st *macState) {
	if cap(st.scratch) > maxIDLen+maxTimestampDigits+2 {
		st.scratch = nil
	}
	k.pool.Put(st)
}
