package signature

import (
	"fmt"
	"strings"
	"time"
)

// Header names used by Sent deliveries. Go's net/http canonicalises incoming
// header names, so these are the canonical forms.
const (
	HeaderSignature = "X-Webhook-Signature"
	HeaderID        = "X-Webhook-Id"
	HeaderTimestamp = "X-Webhook-Timestamp"
	HeaderEventID   = "X-Webhook-Event-Id"
	HeaderEventType = "X-Webhook-Event-Type"
)

// DefaultTolerance is how far X-Webhook-Timestamp may be from the current
// time, in either direction, before a v1 delivery is rejected.
const DefaultTolerance = 5 * time.Minute

// Limits applied to untrusted input. They are far above anything Sent sends.
const (
	// maxSignatures is how many well-formed signatures of one scheme are
	// checked, the first in the header; the rest are counted and ignored
	// (a failure says how many). With maxHeaderLen per header line and the
	// HTTP server's bound on all headers (1 MiB by default), a header of
	// thousands of entries costs one scan of its bytes and at most
	// maxSignatures decodings and comparisons per secret.
	maxSignatures = 16

	// maxHeaderLen bounds each signature header value, and maxIDLen the
	// X-Webhook-Id value.
	maxHeaderLen = 4096
	maxIDLen     = 256

	// maxTimestampDigits keeps X-Webhook-Timestamp well inside int64.
	maxTimestampDigits = 18
)

// Scheme is a signing scheme.
type Scheme string

const (
	// V1 is the current scheme: "v1,<base64 HMAC-SHA256>" over
	// "{X-Webhook-Id}.{X-Webhook-Timestamp}.{body}", keyed with the base64
	// decoding of the whsec_ secret.
	V1 Scheme = "v1"

	// Legacy is the superseded scheme: "sha256=<hex HMAC-SHA256>" over the raw
	// body, keyed with the secret's text. It has no replay protection.
	Legacy Scheme = "legacy"
)

// ParseScheme parses "v1" or "legacy", ignoring case and surrounding space.
// Any other value returns an error wrapping ErrUnknownScheme.
func ParseScheme(s string) (Scheme, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case string(V1):
		return V1, nil
	case string(Legacy):
		return Legacy, nil
	}
	return "", fmt.Errorf("%w %q: want %q or %q", ErrUnknownScheme, clip(s, 32), V1, Legacy)
}

// clip shortens untrusted text before it goes into an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
