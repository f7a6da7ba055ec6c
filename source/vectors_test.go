package source_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// Slack's worked example in "Verifying requests from Slack"
// (api.slack.com/authentication/verifying-requests-from-slack).
const (
	slackSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTimestamp = "1531420618"
	slackBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

// GitHub's example in "Validating webhook deliveries"
// (docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
const (
	githubSecret    = "It's a Secret to Everybody"
	githubBody      = "Hello, World!"
	githubSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

// mac signs as the providers' documentation describes, for those whose
// official library does not run here.
func mac(newHash func() hash.Hash, key, content string, b64 bool) string {
	h := hmac.New(newHash, []byte(key))
	io.WriteString(h, content)
	if b64 {
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func build(t *testing.T, s source.Settings, at time.Time) source.Source {
	t.Helper()
	s.Name = s.Provider
	s.NowFunc = func() time.Time { return at }
	src, err := source.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func post(headers map[string]string, body string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/x", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

// TestPublishedVectors: the examples the providers publish verify, and
// are refused with one byte changed or another secret.
func TestPublishedVectors(t *testing.T) {
	t.Parallel()
	slackAt := time.Unix(1531420618, 0)
	shopifyBody := `{"id":820982911946154508,"email":"jon@example.com"}`
	metaBody := `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{}}]}]}`
	for _, c := range []struct {
		name     string
		settings source.Settings
		at       time.Time
		headers  map[string]string
		body     string
		want     source.Verified
	}{
		{
			name: "slack", settings: source.Settings{Provider: "slack", Secrets: []string{slackSecret}}, at: slackAt,
			headers: map[string]string{"X-Slack-Signature": slackSignature, "X-Slack-Request-Timestamp": slackTimestamp}, body: slackBody,
		},
		{
			name: "github", settings: source.Settings{Provider: "github", Secrets: []string{githubSecret}}, at: now,
			headers: map[string]string{"X-Hub-Signature-256": githubSignature, "X-GitHub-Event": "ping"}, body: githubBody,
			want: source.Verified{Type: "ping"},
		},
		{
			name: "shopify", settings: source.Settings{Provider: "shopify", Secrets: []string{"shpss_0123456789abcdef"}}, at: now,
			headers: map[string]string{
				"X-Shopify-Hmac-Sha256": mac(sha256.New, "shpss_0123456789abcdef", shopifyBody, true),
				"X-Shopify-Topic":       "orders/create", "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
				"X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
			},
			body: shopifyBody, want: source.Verified{EventID: "98880550-7158-44d4-b7cd-2c97c8a091b5", Type: "orders/create"},
		},
		{
			name: "meta", settings: source.Settings{Provider: "meta", Secrets: []string{"app-secret-123"}, VerifyToken: "tok"}, at: now,
			headers: map[string]string{"X-Hub-Signature-256": "sha256=" + mac(sha256.New, "app-secret-123", metaBody, false)},
			body:    metaBody, want: source.Verified{Type: "whatsapp_business_account.messages", Subject: "102290129340398"},
		},
		{
			name: "hmac-sha512-base64-template",
			settings: source.Settings{Provider: "hmac", Secrets: []string{"generic-secret"}, HMAC: source.HMACSettings{
				Header: "X-Signature", Algorithm: "sha512", Encoding: "base64", Prefix: "sha512=",
				Template: "{timestamp}:{body}", TimestampHeader: "X-Timestamp", IDHeader: "X-Event-Id", TypeHeader: "X-Event-Type",
			}}, at: now,
			headers: map[string]string{
				"X-Signature": "sha512=" + mac(sha512.New, "generic-secret", "1761905442:{}", true),
				"X-Timestamp": "1761905442", "X-Event-Id": "e-1", "X-Event-Type": "thing.done",
			},
			body: "{}", want: source.Verified{EventID: "e-1", Type: "thing.done"},
		},
		{
			name: "hmac-sha1-hex",
			settings: source.Settings{Provider: "hmac", Secrets: []string{"generic-secret"}, HMAC: source.HMACSettings{
				Header: "x-sig", Algorithm: "sha1"}}, at: now,
			headers: map[string]string{"X-Sig": mac(sha1.New, "generic-secret", `{"a":1}`, false)},
			body:    `{"a":1}`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			src := build(t, c.settings, c.at)
			got, err := src.Verify(post(c.headers, c.body), []byte(c.body))
			if err != nil {
				t.Fatalf("Verify: %v\n%s", err, src.Diagnose(post(c.headers, c.body).Header, "", []byte(c.body), c.at))
			}
			got.Timestamp = time.Time{}
			if got != c.want {
				t.Errorf("Verified = %+v, want %+v", got, c.want)
			}
			changed := []byte(c.body)
			changed[len(changed)/2] ^= 1
			if _, err := src.Verify(post(c.headers, string(changed)), changed); !errors.Is(err, signature.ErrNoMatch) {
				t.Errorf("one byte changed: %v", err)
			}
			other := c.settings
			other.Secrets = []string{"another-secret"}
			d := build(t, other, c.at).Diagnose(post(c.headers, c.body).Header, "", []byte(c.body), c.at)
			if d.OK || !hasCause(d, signature.CauseNoSecretMatched) {
				t.Errorf("another secret: %s", d)
			}
		})
	}
	t.Run("slack-stale", func(t *testing.T) {
		t.Parallel()
		src := build(t, source.Settings{Provider: "slack", Secrets: []string{slackSecret}}, slackAt.Add(6*time.Minute))
		h := map[string]string{"X-Slack-Signature": slackSignature, "X-Slack-Request-Timestamp": slackTimestamp}
		if _, err := src.Verify(post(h, slackBody), []byte(slackBody)); !errors.Is(err, signature.ErrStaleTimestamp) {
			t.Errorf("six minutes late: %v", err)
		}
		d := src.Diagnose(post(h, slackBody).Header, "", []byte(slackBody), slackAt.Add(6*time.Minute))
		if !hasCause(d, signature.CauseStaleTimestamp) {
			t.Errorf("diagnosis: %s", d)
		}
		// As @slack/bolt, a timestamp ahead of this clock is not refused.
		behind := build(t, source.Settings{Provider: "slack", Secrets: []string{slackSecret}}, slackAt.Add(-6*time.Minute))
		if _, err := behind.Verify(post(h, slackBody), []byte(slackBody)); err != nil {
			t.Errorf("six minutes ahead: %v", err)
		}
	})
}

// TestHandshakes: Slack's url_verification is answered with its challenge
// once signed; Meta's subscription GET with its challenge only for the
// right verify token.
func TestHandshakes(t *testing.T) {
	t.Parallel()
	slack := build(t, source.Settings{Provider: "slack", Secrets: []string{slackSecret}}, now).(source.Handshaker)
	body := `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	a, ok := slack.Handshake(post(nil, body), []byte(body))
	if !ok || a.Status != http.StatusOK || string(a.Body) != `{"challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}` {
		t.Errorf("slack: %v %d %s", ok, a.Status, a.Body)
	}
	meta := build(t, source.Settings{Provider: "meta", Secrets: []string{"s"}, VerifyToken: "my-token"}, now).(source.Handshaker)
	get := httptest.NewRequest(http.MethodGet, "/webhooks/wa?hub.mode=subscribe&hub.verify_token=my-token&hub.challenge=1158201444", nil)
	if a, ok := meta.Handshake(get, nil); !ok || a.Status != http.StatusOK || string(a.Body) != "1158201444" {
		t.Errorf("meta: %v %d %s", ok, a.Status, a.Body)
	}
	bad := httptest.NewRequest(http.MethodGet, "/webhooks/wa?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", nil)
	if a, ok := meta.Handshake(bad, nil); !ok || a.Status != http.StatusForbidden {
		t.Errorf("meta, wrong token: %v %d", ok, a.Status)
	}
}

// TestDiagnosisFindsTheRewrittenBody: a body re-serialised or given a
// final newline on the way is named as such, not as another secret.
func TestDiagnosisFindsTheRewrittenBody(t *testing.T) {
	t.Parallel()
	signedBody := `{"ref":"refs/heads/main","after":"6113728f"}`
	h := map[string]string{"X-Hub-Signature-256": "sha256=" + mac(sha256.New, githubSecret, signedBody, false)}
	src := build(t, source.Settings{Provider: "github", Secrets: []string{githubSecret}}, now)
	for _, c := range []struct{ body, cause string }{
		{"{\n  \"ref\": \"refs/heads/main\",\n  \"after\": \"6113728f\"\n}", signature.CauseBodyReformatted},
		{signedBody + "\n", signature.CauseTrailingNewline},
	} {
		d := src.Diagnose(post(h, c.body).Header, "", []byte(c.body), now)
		if d.OK || len(d.Findings) != 1 || d.Findings[0].Cause != c.cause {
			t.Errorf("%q: %s", c.body, d)
		}
	}
}
