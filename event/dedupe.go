package event

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// HeaderEventID is the request header Sent sends with the same value on
// every retry of one event: the best dedupe key there is.
const HeaderEventID = "X-Webhook-Event-Id"

// maxKeyValue bounds a header or id value kept verbatim in a dedupe key.
const maxKeyValue = 256

// DedupeKey returns the key under which one event is accepted once, the
// first that exists of:
//
//	"event-id:<v>"   the X-Webhook-Event-Id header
//	"id:<v>"         the envelope id (gen 1)
//	"sha256:<hex>"   SHA-256 of the raw body: a retry re-signs the same body,
//	                 so its hash is stable
//
// X-Webhook-Id is never used: it names the endpoint, not the event. env may
// be nil (a body that did not parse). Values are trimmed; a value longer
// than 256 bytes, or with bytes outside printable ASCII, is not kept raw but
// hashed: "event-id-sha256:<hex>", "id-sha256:<hex>".
func DedupeKey(h http.Header, body []byte, env *Envelope) string {
	if v := strings.TrimSpace(h.Get(HeaderEventID)); v != "" {
		return boundedKey("event-id", v)
	}
	if env != nil {
		if v := strings.TrimSpace(env.ID); v != "" {
			return boundedKey("id", v)
		}
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ProviderDedupeKey is the key of an event from another provider than
// Sent: "event-id:<v>" for the provider's event id, the same on every
// retry, else "sha256:<hex>" of the body.
func ProviderDedupeKey(eventID string, body []byte) string {
	if v := strings.TrimSpace(eventID); v != "" {
		return boundedKey("event-id", v)
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func boundedKey(prefix, v string) string {
	if len(v) <= maxKeyValue && printableASCII(v) {
		return prefix + ":" + v
	}
	sum := sha256.Sum256([]byte(v))
	return prefix + "-sha256:" + hex.EncodeToString(sum[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IDKeys returns the dedupe keys under which an event Sent calls id is
// stored: from the X-Webhook-Event-Id header, or from the envelope id
// (gen 1). It is how an event is found by Sent's id.
func IDKeys(id string) []string {
	id = strings.TrimSpace(id)
	return []string{boundedKey("event-id", id), boundedKey("id", id)}
}
