package signature

import (
	"errors"
	"fmt"
)

// Reasons a delivery fails verification. Verify wraps each in a *VerifyError
// that carries the detail; match them with errors.Is.
var (
	// ErrMissingSignature: no X-Webhook-Signature header, or an empty one.
	ErrMissingSignature = errors.New("signature: missing signature")

	// ErrUnknownScheme: the header holds neither "v1,…" nor "sha256=…".
	ErrUnknownScheme = errors.New("signature: unknown scheme")

	// ErrMalformed: a header is present but cannot be parsed (a signature that
	// is not base64 or hex of 32 bytes, a timestamp that is not Unix seconds,
	// a missing X-Webhook-Id, an oversized header).
	ErrMalformed = errors.New("signature: malformed")

	// ErrMissingTimestamp: a v1 signature without X-Webhook-Timestamp.
	ErrMissingTimestamp = errors.New("signature: missing timestamp")

	// ErrStaleTimestamp: X-Webhook-Timestamp is further in the past than the
	// tolerance allows.
	ErrStaleTimestamp = errors.New("signature: stale timestamp")

	// ErrFutureTimestamp: X-Webhook-Timestamp is further in the future than the
	// tolerance allows.
	ErrFutureTimestamp = errors.New("signature: future timestamp")

	// ErrNoMatch: well-formed, but no signature matches any secret.
	ErrNoMatch = errors.New("signature: no match")

	// ErrSchemeNotAllowed: the signature uses a scheme the Verifier was not
	// configured to accept.
	ErrSchemeNotAllowed = errors.New("signature: scheme not allowed")

	// ErrInvalidSecret: ParseSecret or ParseSecrets could not use a secret.
	// It is a configuration error, not a verification failure.
	ErrInvalidSecret = errors.New("signature: invalid secret")
)

// VerifyError is the error Verify returns. Reason is one of the ErrXxx
// sentinels above; Detail says what exactly was wrong, for logs. Detail never
// contains a secret or the expected signature, so it is safe to log; it is
// not meant for the sender, who should learn no more than "401".
type VerifyError struct {
	Reason error
	Detail string
}

// Error returns e.g. "signature: stale timestamp: 412s old, tolerance 300s".
func (e *VerifyError) Error() string {
	reason := "signature: invalid"
	if e.Reason != nil {
		reason = e.Reason.Error()
	}
	if e.Detail == "" {
		return reason
	}
	return reason + ": " + e.Detail
}

// Unwrap returns Reason, so errors.Is(err, ErrStaleTimestamp) works.
func (e *VerifyError) Unwrap() error { return e.Reason }

func verifyErr(reason error, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// reasonCodes maps each sentinel to its code, in the order ReasonCode tries them.
var reasonCodes = []struct {
	err  error
	code string
}{
	{ErrMissingSignature, "missing_signature"},
	{ErrUnknownScheme, "unknown_scheme"},
	{ErrMalformed, "malformed"},
	{ErrMissingTimestamp, "missing_timestamp"},
	{ErrStaleTimestamp, "stale_timestamp"},
	{ErrFutureTimestamp, "future_timestamp"},
	{ErrNoMatch, "no_match"},
	{ErrSchemeNotAllowed, "scheme_not_allowed"},
}

// ReasonCode returns a short snake_case code for err, for JSON bodies, metrics
// and log keys: "missing_signature", "unknown_scheme", "malformed",
// "missing_timestamp", "stale_timestamp", "future_timestamp", "no_match" or
// "scheme_not_allowed". It returns "" for nil and "invalid" for any other
// error.
func ReasonCode(err error) string {
	if err == nil {
		return ""
	}
	for _, rc := range reasonCodes {
		if errors.Is(err, rc.err) {
			return rc.code
		}
	}
	return "invalid"
}
