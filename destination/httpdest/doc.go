// Package httpdest forwards events to an HTTP endpoint: the usual way to
// put hooklatch in front of an app written in any language.
//
//	dest, err := httpdest.New(httpdest.Config{
//		URL:    "http://127.0.0.1:8080/hooks/sent",
//		Secret: secret, // optional: sign what hooklatch forwards
//	})
//
// # The request
//
// Each attempt is a POST of the body exactly as Sent sent it, byte for
// byte, with the Content-Type it came with (application/json when none was
// stored). Sent's own headers, as stored, are forwarded under new names so
// that nothing mistakes Sent's signature for hooklatch's:
//
//	X-Sent-Webhook-Id, X-Sent-Webhook-Timestamp, X-Sent-Webhook-Signature,
//	X-Sent-Webhook-Event-Id, X-Sent-Webhook-Event-Type
//
// hooklatch adds its own:
//
//	Hooklatch-Event-Id:    the event's ID
//	Hooklatch-Delivery-Id: the delivery's ID (this event to this destination)
//	Hooklatch-Attempt:     1, 2, …
//	Hooklatch-Event-Type:  message.delivered, …
//	Hooklatch-Stale:       true when a later state of the event's subject had
//	                       already been received, else false
//	Hooklatch-Subject-Status: that subject's latest status (DELIVERED, …)
//	Hooklatch-Source:      the source it came in on: sent, or a configured
//	                       source's name (payments, …)
//
// An event with no subject (no message_id, template_id …) has
// Hooklatch-Stale false and no Hooklatch-Subject-Status, as an event with
// no type has no Hooklatch-Event-Type. See docs/ordering.md.
//
// With Config.Secret set, the request also carries a signature in Sent's
// current scheme, so the app verifies forwarded events with the code it
// would use for Sent itself (signature.Verifier, or any Standard Webhooks
// library):
//
//	X-Webhook-Id:        the event's ID — the same on every attempt: dedupe on it
//	X-Webhook-Timestamp: the time of this attempt, in Unix seconds
//	X-Webhook-Signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">
//
// and the same three values under the Standard Webhooks names Webhook-Id,
// Webhook-Timestamp and Webhook-Signature. With several secrets (Secrets,
// while the app rotates its own), the signature header lists one signature
// a secret, space-separated as Standard Webhooks does ("v1,<sig1> v1,<sig2>"),
// so an app holding any one of them verifies; the legacy scheme, which has
// room for one, signs with the first.
//
// The signature covers the ID, the timestamp and the body, as Sent's and
// every Standard Webhooks library's does: not the other headers.
// Hooklatch-Stale and Hooklatch-Subject-Status are as trustworthy as the
// connection they arrive on (keep hooklatch and the app on a private
// network or behind TLS). An app that must not rely on them reads the
// status and timestamp from the signed body and compares them with what it
// has stored.
//
// # The answer
//
// One table decides what an answer means:
//
//	2xx                      delivered; the first MaxResponseBytes are kept
//	408, 5xx, other codes    temporary: retried with backoff
//	429, 503                 temporary; a Retry-After (seconds or an HTTP
//	                         date, at most 24h) sets the earliest retry
//	3xx                      permanent: redirects are not followed, since a
//	                         moved endpoint is a configuration problem
//	other 4xx                permanent: the delivery goes to dead
//	timeout, no connection   temporary
//
// Errors say what happened in words ("POST http://127.0.0.1:8080/hooks
// answered 500 Internal Server Error: database is locked"); passwords in
// the URL are never printed. Every response body is read, up to a bound,
// and closed, so connections are reused: a Destination keeps a pool of
// idle connections shared with every other one.
package httpdest
