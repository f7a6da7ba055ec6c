package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hooklatch/hooklatch/signature"
)

// Twilio signs a webhook with a JSON body differently from a form: it adds
// the hex SHA-256 of the body to the URL as the bodySHA256 query parameter
// and signs the URL alone, with no parameters; the body is checked against
// that hash (twilio's validateRequestWithBody, lib/webhooks/webhooks.js).

// bodyHashParam is the query parameter that carries a JSON body's hash.
const bodyHashParam = "bodySHA256"

// twilioJSON reports whether req is a JSON-bodied Twilio webhook: its URL,
// or the public URL, carries bodySHA256, or its body is a JSON object or
// array (a form body never starts with { or [).
func twilioJSON(req *http.Request, public string, body []byte) bool {
	if strings.Contains(public, bodyHashParam) || req.URL.Query().Has(bodyHashParam) {
		return true
	}
	return jsonBody(body)
}

// jsonBody reports whether body is a JSON object or array: a form body
// never starts with { or [.
func jsonBody(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')
}

// URLSigner is a Signer whose provider signs part of a request in the URL
// it posts to: Twilio posts a JSON body to the configured URL with the
// body's bodySHA256 added, and twilio's validateRequestWithBody reads the
// hash from there. PostURL is the URL the provider would post body to when
// configured with url; Sign signs a request posted there.
type URLSigner interface {
	PostURL(url string, body []byte) string
}

// PostURL is the URL s's provider would post body to when configured with
// url: url itself, but for a URLSigner's (Twilio's, for a JSON body).
func PostURL(s Signer, url string, body []byte) string {
	if u, ok := s.(URLSigner); ok {
		return u.PostURL(url, body)
	}
	return url
}

// twilioPostURL is u with a JSON body's bodySHA256 added, as Twilio posts
// it; a form body's URL is u.
func twilioPostURL(u string, body []byte) string {
	if !jsonBody(body) || strings.Contains(u, bodyHashParam) {
		return u
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + bodyHashParam + "=" + bodyHash(body)
}

// withBodyHash is u with the bodySHA256 parameter Twilio added to it: the
// request's, else (a request whose URL was not kept, such as a released
// rejection) the body's own hash. A u that has one already is left as it
// is.
func withBodyHash(u string, req *http.Request, body []byte) string {
	if strings.Contains(u, bodyHashParam) {
		return u
	}
	h := req.URL.Query().Get(bodyHashParam)
	if h == "" {
		h = bodyHash(body)
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + bodyHashParam + "=" + url.QueryEscape(h)
}

// bodyHash is the hex SHA-256 of body, as Twilio puts it in the URL.
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// signedBodyHash is the bodySHA256 of a signed URL.
func signedBodyHash(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return parsed.Query().Get(bodyHashParam)
}

// bodyHashError is a Twilio request whose signature matched but whose body
// is not the one Twilio hashed into the URL.
type bodyHashError struct {
	*signature.VerifyError
	want string // the URL's bodySHA256
}

// checkTwilioBody holds body to the bodySHA256 of the signed URL u.
func checkTwilioBody(u string, body []byte) error {
	want := signedBodyHash(u)
	if got := bodyHash(body); got != want {
		return &bodyHashError{&signature.VerifyError{Reason: signature.ErrNoMatch, Detail: fmt.Sprintf(
			"the body's SHA-256 %.12s… is not the URL's %s %.12s…", got, bodyHashParam, want)}, want}
	}
	return nil
}

// findings says what changed the body: the usual changes tried against
// the hash Twilio signed, else the plain fact.
func (e *bodyHashError) findings(body []byte) []signature.Finding {
	for _, r := range rewrites(body) {
		if bodyHash(r.body) == e.want {
			return []signature.Finding{{Cause: r.cause, Message: "the URL's " + bodyHashParam + " is the hash of the body " + r.what}}
		}
	}
	return []signature.Finding{{Cause: signature.CauseNoSecretMatched, Message: "the signature of the URL matches, but the body's SHA-256 is not the " +
		bodyHashParam + " Twilio signed in it: the body was changed on the way (a proxy or framework re-serialised or re-encoded it)"}}
}
