package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"
)

// SignOptions are the per-delivery inputs of a v1 signature.
type SignOptions struct {
	// WebhookID is sent as X-Webhook-Id. Defaults to a random UUIDv4.
	WebhookID string

	// Timestamp is sent as X-Webhook-Timestamp, in whole seconds. Defaults to
	// time.Now().
	Timestamp time.Time
}

// Sign signs body the way Sent does and returns the headers to send with it:
// X-Webhook-Id, X-Webhook-Timestamp and X-Webhook-Signature for V1, only
// X-Webhook-Signature for Legacy. For any other scheme it returns an empty
// header, which Verify rejects with ErrMissingSignature.
//
// Sign is for tests, replay tools and local senders; a receiver never signs.
func Sign(scheme Scheme, secret Secret, body []byte, opts SignOptions) http.Header {
	h := make(http.Header)
	switch scheme {
	case V1:
		id := opts.WebhookID
		if id == "" {
			id = newUUID()
		}
		ts := opts.Timestamp
		if ts.IsZero() {
			ts = time.Now()
		}
		unix := ts.Unix()
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, strconv.FormatInt(unix, 10))
		h.Set(HeaderSignature, SignV1(secret.v1Key, id, unix, body))
	case Legacy:
		h.Set(HeaderSignature, SignLegacy([]byte(secret.text), body))
	}
	return h
}

// SignV1 returns "v1,<base64 HMAC-SHA256(key, "{webhookID}.{unix}.{body}")>".
func SignV1(key []byte, webhookID string, unix int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(webhookID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return v1Prefix + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignLegacy returns "sha256=<lowercase hex HMAC-SHA256(key, body)>".
func SignLegacy(key []byte, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return legacyPrefix + hex.EncodeToString(m.Sum(nil))
}

// newUUID returns a random RFC 9562 version 4 UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails since Go 1.24
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
