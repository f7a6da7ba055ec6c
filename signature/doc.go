// Package signature checks the signatures Sent puts on webhook deliveries, and
// explains the ones that fail.
//
// # Verifying a delivery
//
// Each Sent webhook endpoint has a signing secret, "whsec_" followed by
// base64, shown once when the endpoint is created. Parse it at start-up,
// build one Verifier, and call Verify with the request's headers and its raw
// body — the bytes exactly as read, before any JSON decoding, since a
// re-encoded body no longer matches:
//
//	secrets, err := signature.ParseSecrets(os.Getenv("SENT_DM_WEBHOOK_SECRET"))
//	if err != nil {
//		return err // a configuration error: the message never shows the secret
//	}
//	verifier, err := signature.NewVerifier(signature.Config{Secrets: secrets})
//	if err != nil {
//		return err
//	}
//
//	// In the handler:
//	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
//	…
//	res, err := verifier.Verify(r.Header, body)
//	if err != nil {
//		logger.Warn("webhook rejected", "reason", signature.ReasonCode(err), "err", err)
//		http.Error(w, "invalid signature", http.StatusUnauthorized)
//		return
//	}
//
// Verify is cheap enough for the acknowledgement path: it allocates nothing
// when the signature matches, and reads the timestamp before hashing.
//
// # Schemes
//
// Sent has signed deliveries two ways. V1, the current scheme, sends three
// headers:
//
//	X-Webhook-Id:        d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8
//	X-Webhook-Timestamp: 1761905442
//	X-Webhook-Signature: v1,BdGvszniYLgk93FxFTxyqtUSCWEzQsZfFuUO2EYZWpE=
//
// The signature is the base64 of HMAC-SHA256 over "{id}.{timestamp}.{body}",
// keyed with the base64 decoding of the secret after "whsec_". A timestamp
// more than Config.Tolerance (five minutes) from now, in either direction, is
// rejected, which bounds replays. The header may carry several signatures
// separated by spaces; one match is enough.
//
// Legacy, the superseded scheme, sends only "X-Webhook-Signature:
// sha256=<hex>", the HMAC-SHA256 of the body keyed with the secret's text. It
// has no timestamp and so no replay protection: once no sender uses it, turn
// it off with Config.Schemes = []Scheme{V1}.
//
// # Rotating the secret
//
// Sent invalidates the old secret as soon as a new one is issued, so a
// receiver lists both for a while, the new one first:
//
//	SENT_DM_WEBHOOK_SECRET=whsec_new…,whsec_old…
//
// Result.SecretIndex says which one matched; drop the old secret once it
// stops matching. Logs name secrets by fingerprint only: a Secret prints as
// "whsec_…(fp 8b894291)" whatever the fmt verb or slog handler.
//
// # Errors
//
// Verify fails with a *VerifyError. Its Reason is one of the sentinels
// (ErrMissingSignature, ErrUnknownScheme, ErrMalformed, ErrMissingTimestamp,
// ErrStaleTimestamp, ErrFutureTimestamp, ErrNoMatch, ErrSchemeNotAllowed),
// matched with errors.Is; ReasonCode turns it into a snake_case code for
// JSON and metrics. Its Detail ("412s old, tolerance 300s") is for the log:
// it never holds a secret or the expected signature. The sender should learn
// no more than the 401.
//
// # Finding out why
//
// When deliveries fail and the cause is not obvious, call Diagnose, off the
// request path, with the same headers, body and secrets. It recomputes the
// signature over the mistakes seen in practice — a body that was
// re-serialised, re-ordered, re-escaped, given or stripped of a trailing
// newline, truncated or base64-wrapped; a secret used undecoded, or decoded
// where the text was wanted; the other scheme's content; upper-case hex or a
// missing prefix; a secret from another environment — and checks the headers
// and the clock:
//
//	signature does not verify (scheme v1)
//	1. body_reformatted: the body was re-serialised: the sender signed compact JSON, it arrived re-formatted; … [the signature matches secrets[0] (fp 8b894291)]
//	2. stale_timestamp: X-Webhook-Timestamp is 420s old, tolerance 300s: … this host's clock is ahead of the sender's by at least 120s — check NTP
//
// A finding that makes the signature match comes first and is certain; the
// rest are what the headers, the clock and the shape of the body say.
//
// # Signing
//
// Sign produces the headers Sent would send, for tests, replay tools and
// local senders; SignV1 and SignLegacy are the bare algorithms.
package signature
