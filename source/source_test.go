package source_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/providertest"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// now is the signing time of every request.
var now = time.Unix(1761905442, 0)

// officialSign signs each job with its provider's official library and
// prints the headers it would send.
const officialSign = `
import { readFileSync } from "node:fs";
import { Webhook as Standard } from "standardwebhooks";
import Stripe from "stripe";
import { sign as octokitSign } from "@octokit/webhooks-methods";
import twilio from "twilio";
import { createSHA256HMAC, HashFormat } from "@shopify/shopify-api/runtime";
import { createRequire } from "node:module";
// The signature the WhatsApp SDK's webhook listener (build/api/webhooks.js)
// expects; the package exports no path to it, so it is required by file.
const { generateXHub256Sig } = createRequire(import.meta.url)("./node_modules/whatsapp/build/utils.js");
const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const j of jobs) {
  switch (j.lib) {
  case "whatsapp":
    out.push({ "x-hub-signature-256": "sha256=" + generateXHub256Sig(j.body, j.secret) });
    break;
  case "shopify": { // the HMAC @shopify/shopify-api's webhooks.validate computes
    const p = j.events ? "shopify-" : "x-shopify-"; // its Events and Webhooks header names
    out.push({ [p + "hmac-sha256"]: await createSHA256HMAC(j.secret, j.body, HashFormat.Base64), [p + "topic"]: "orders/create",
      [p + "webhook-id"]: j.id, [p + "shop-domain"]: "shop.myshopify.com", [p + "api-version"]: "2025-10" });
    break;
  }
  case "standardwebhooks": {
    const sig = new Standard(j.secret).sign(j.id, new Date(j.unix * 1000), j.body);
    out.push({ "webhook-id": j.id, "webhook-timestamp": String(j.unix), "webhook-signature": sig });
    break;
  }
  case "stripe": {
    const stripe = new Stripe("sk_test_unused");
    out.push({ "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: j.body, secret: j.secret, timestamp: j.unix }) });
    break;
  }
  case "octokit":
    out.push({ "x-hub-signature-256": await octokitSign(j.secret, j.body), "x-github-event": "push", "x-github-delivery": j.id });
    break;
  case "twilio": {
    if (j.json) { // signed over the URL with the body's hash, and no parameters
      const u = j.url + (j.url.includes("?") ? "&" : "?") + "bodySHA256=" + twilio.getExpectedBodyHash(j.body);
      out.push({ "x-twilio-signature": twilio.getExpectedTwilioSignature(j.secret, u, {}, j.algorithm || undefined), "x-signed-url": u });
      break;
    }
    const params = Object.fromEntries(new URLSearchParams(j.body));
    const h = { "x-twilio-signature": twilio.getExpectedTwilioSignature(j.secret, j.url, params, j.algorithm || undefined) };
    if (j.algorithm) h["x-twilio-webhooks-signature-settings"] = "key=webhooks_sharedkey_1,algorithm=" + j.algorithm;
    out.push(h);
    break;
  }
  }
}
process.stdout.write(JSON.stringify(out));
`

// job is one request to sign.
type job struct {
	Lib    string `json:"lib"`
	Secret string `json:"secret"`
	Body   string `json:"body"`
	Unix   int64  `json:"unix"`
	ID     string `json:"id"`
	URL    string `json:"url"`
	// Algorithm is Twilio's: HMAC_SHA1 when empty, or HMAC_SHA256.
	Algorithm string `json:"algorithm,omitempty"`
	// JSON signs a Twilio JSON body: through its bodySHA256 in the URL.
	JSON bool `json:"json,omitempty"`
	// Events names Shopify's headers as its Events webhooks do
	// (shopify-hmac-sha256 …), not as its Webhooks (x-shopify-…).
	Events bool `json:"events,omitempty"`
}

const twilioURL = "https://hooks.example.com/webhooks/sms?tenant=7"

// providerCase is one provider tested with requests its library signed.
type providerCase struct {
	name     string
	settings source.Settings
	job      job
	stale    bool // the provider signs a timestamp
	want     source.Verified
}

var providerCases = []providerCase{
	{
		name:     "standard-webhooks",
		settings: source.Settings{Provider: "standard-webhooks", Secrets: []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
		job: job{Lib: "standardwebhooks", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ID: "msg_p5jXN8AQM9LWM0D4loKWxJek",
			Body: `{"type":"invoice.paid","timestamp":"2025-10-31T10:10:42Z","data":{"id":"inv_1"}}`},
		stale: true,
		want:  source.Verified{EventID: "msg_p5jXN8AQM9LWM0D4loKWxJek", Type: "invoice.paid"},
	},
	{
		name:     "stripe",
		settings: source.Settings{Provider: "stripe", Secrets: []string{"whsec_test_secret_3k1Jd9"}},
		job: job{Lib: "stripe", Secret: "whsec_test_secret_3k1Jd9",
			Body: `{"id":"evt_1Q2w3E4r5T6y7U8i","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1Q2w3E","object":"invoice"}}}`},
		stale: true,
		want:  source.Verified{EventID: "evt_1Q2w3E4r5T6y7U8i", Type: "invoice.paid", Subject: "in_1Q2w3E"},
	},
	{
		name:     "github",
		settings: source.Settings{Provider: "github", Secrets: []string{"It's a Secret to Everybody"}},
		job: job{Lib: "octokit", Secret: "It's a Secret to Everybody", ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
			Body: `{"ref":"refs/heads/main","repository":{"full_name":"octo/hello"}}`},
		want: source.Verified{Type: "push"},
	},
	{
		name:     "twilio",
		settings: source.Settings{Provider: "twilio", Secrets: []string{"12345abcdef67890"}, PublicURL: twilioURL},
		job: job{Lib: "twilio", Secret: "12345abcdef67890", URL: twilioURL,
			Body: "MessageSid=SM1234567890abcdef&MessageStatus=delivered&To=%2B15005550006&From=%2B15005550001&AccountSid=AC123"},
		want: source.Verified{Type: "message.delivered", Subject: "SM1234567890abcdef"},
	},
	{
		// Signed with SHA-256 over the URL without its port; public_url
		// names the port, which twilio's validateRequest tries both ways.
		name: "twilio-sha256",
		settings: source.Settings{Provider: "twilio", Secrets: []string{"12345abcdef67890"},
			PublicURL: strings.Replace(twilioURL, "example.com/", "example.com:443/", 1)},
		job: job{Lib: "twilio", Secret: "12345abcdef67890", URL: twilioURL, Algorithm: "HMAC_SHA256",
			Body: "CallSid=CA42&CallStatus=completed&AccountSid=AC123"},
		want: source.Verified{Type: "call.completed", Subject: "CA42"},
	},
	{
		name:     "shopify",
		settings: source.Settings{Provider: "shopify", Secrets: []string{"shpss_2f6b1c0d9e8a7f3b"}},
		job: job{Lib: "shopify", Secret: "shpss_2f6b1c0d9e8a7f3b", ID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
			Body: `{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}`},
		want: source.Verified{EventID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", Type: "orders/create"},
	},
	{
		name:     "shopify-events",
		settings: source.Settings{Provider: "shopify", Secrets: []string{"shpss_2f6b1c0d9e8a7f3b"}},
		job: job{Lib: "shopify", Secret: "shpss_2f6b1c0d9e8a7f3b", ID: "2c6ab2bb-50a8-4a5e-9b5b-2d6b1d3b0f11", Events: true,
			Body: `{"id":820982911946154508,"email":"jon@example.com","total_price":"403.00"}`},
		want: source.Verified{EventID: "2c6ab2bb-50a8-4a5e-9b5b-2d6b1d3b0f11", Type: "orders/create"},
	},
	{
		// Meta's WhatsApp SDK (npm whatsapp) signs nothing itself: its
		// webhook listener compares X-Hub-Signature-256 with its
		// generateXHub256Sig of the body as UTF-8, which signs here. A
		// non-ASCII body shows the HMAC covers the bytes, not the text.
		name:     "meta",
		settings: source.Settings{Provider: "meta", Secrets: []string{"3f1b6c0a9d8e7f2a4b5c6d7e8f901234"}, VerifyToken: "meatyhamhock"},
		job: job{Lib: "whatsapp", Secret: "3f1b6c0a9d8e7f2a4b5c6d7e8f901234",
			Body: `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","messages":[{"from":"16315551181","id":"wamid.ABGGFlA5Fpa","type":"text","text":{"body":"Olá, 👋 ça va?"}}]},"field":"messages"}]}]}`},
		want: source.Verified{Type: "whatsapp_business_account.messages", Subject: "102290129340398"},
	},
	{
		// A JSON body: Twilio adds its hash to the URL as bodySHA256 and
		// signs the URL alone (validateRequestWithBody). The request here
		// is at the URL without it, as a released rejection is: the hash
		// is the body's.
		name:     "twilio-json",
		settings: source.Settings{Provider: "twilio", Secrets: []string{"12345abcdef67890"}, PublicURL: twilioURL},
		job: job{Lib: "twilio", Secret: "12345abcdef67890", URL: twilioURL, JSON: true,
			Body: `{"id":"EV0123","type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SM42"}}`},
		want: source.Verified{EventID: "EV0123", Type: "com.twilio.messaging.message.delivered"},
	},
}

// signAll signs every case's request, as sent at now, at now minus 10
// minutes, and with the wrong secret, in one run of Node.js.
func signAll(t *testing.T) (fresh, stale, wrong []http.Header) {
	t.Helper()
	var jobs []job
	for _, c := range providerCases {
		j := c.job
		j.Unix = now.Unix()
		old := j
		old.Unix = now.Add(-10 * time.Minute).Unix()
		other := j
		if strings.HasPrefix(other.Secret, "whsec_") && c.name == "standard-webhooks" {
			other.Secret = "whsec_b3RoZXItZW52aXJvbm1lbnQta2V5LTk4NzY1NDMyMQ=="
		} else {
			other.Secret += "-live"
		}
		jobs = append(jobs, j, old, other)
	}
	var out []map[string]string
	providertest.Run(t, officialSign, jobs, &out)
	header := func(m map[string]string) http.Header {
		h := http.Header{}
		for k, v := range m {
			if k != "x-signed-url" { // what the library signed, not a header
				h.Set(k, v)
			}
		}
		return h
	}
	for i := range providerCases {
		fresh = append(fresh, header(out[3*i]))
		stale = append(stale, header(out[3*i+1]))
		wrong = append(wrong, header(out[3*i+2]))
	}
	return fresh, stale, wrong
}

// TestProvidersAcceptTheirOfficialLibrarySignatures: each provider accepts a
// request signed by the provider's own library, and refuses the same
// request with one byte changed, a stale timestamp or another secret, with
// the diagnosis that names the cause.
func TestProvidersAcceptTheirOfficialLibrarySignatures(t *testing.T) {
	t.Parallel()
	fresh, stale, wrong := signAll(t)
	for i, c := range providerCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.settings.Name = c.name
			c.settings.NowFunc = func() time.Time { return now }
			src, err := source.New(c.settings)
			if err != nil {
				t.Fatal(err)
			}
			request := func(h http.Header, body string) *http.Request {
				url := "/webhooks/" + c.name
				if c.job.URL != "" {
					url = c.job.URL
				}
				req := httptest.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header = h.Clone()
				return req
			}
			got, err := src.Verify(request(fresh[i], c.job.Body), []byte(c.job.Body))
			if err != nil {
				t.Fatalf("signed by the official library: %v", err)
			}
			got.Timestamp = time.Time{}
			if got != c.want {
				t.Errorf("Verified = %+v, want %+v", got, c.want)
			}
			changed := []byte(c.job.Body)
			changed[len(changed)/2] ^= 1
			refused(t, src, "one byte changed", request(fresh[i], string(changed)), changed, signature.ErrNoMatch, signature.CauseNoSecretMatched)
			refused(t, src, "another secret", request(wrong[i], c.job.Body), []byte(c.job.Body), signature.ErrNoMatch, signature.CauseNoSecretMatched)
			if c.stale {
				refused(t, src, "ten minutes old", request(stale[i], c.job.Body), []byte(c.job.Body), signature.ErrStaleTimestamp, signature.CauseStaleTimestamp)
			}
		})
	}
}

func refused(t *testing.T, src source.Source, what string, req *http.Request, body []byte, want error, cause string) {
	t.Helper()
	if _, err := src.Verify(req, body); !errors.Is(err, want) {
		t.Errorf("%s: Verify = %v, want %v", what, err, want)
	}
	d := src.Diagnose(req.Header, req.URL.String(), body, now)
	if d.OK || len(d.Findings) == 0 || !hasCause(d, cause) {
		t.Errorf("%s: diagnosis lacks %s:\n%s", what, cause, d)
	}
}

func hasCause(d signature.Diagnosis, cause string) bool {
	for _, f := range d.Findings {
		if f.Cause == cause {
			return true
		}
	}
	return false
}

// TestTwilioWrongURLIsDiagnosed: a Twilio request checked against another
// URL than the one Twilio signed (public_url with the wrong scheme, or
// pointing elsewhere while the request arrived at the signed URL) is
// diagnosed as such, not as another secret.
func TestTwilioWrongURLIsDiagnosed(t *testing.T) {
	t.Parallel()
	fresh, _, _ := signAll(t)
	var c providerCase
	var h http.Header
	for i, pc := range providerCases {
		if pc.name == "twilio" {
			c, h = pc, fresh[i]
		}
	}
	for _, public := range []string{strings.Replace(twilioURL, "https://", "http://", 1), "https://proxy.internal/sms"} {
		s := c.settings
		s.Name, s.PublicURL = "sms", public
		src, err := source.New(s)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, twilioURL, strings.NewReader(c.job.Body))
		req.Header = h.Clone()
		if _, err := src.Verify(req, []byte(c.job.Body)); !errors.Is(err, signature.ErrNoMatch) {
			t.Fatalf("public_url %s: Verify = %v", public, err)
		}
		d := src.Diagnose(req.Header, twilioURL, []byte(c.job.Body), now)
		if len(d.Findings) != 1 || d.Findings[0].Cause != source.CauseWrongURL || !strings.Contains(d.Findings[0].Message, twilioURL) {
			t.Errorf("public_url %s: %s", public, d)
		}
	}
}

// TestStripeRefusesOnlyOldTimestamps: as stripe-node, a Stripe timestamp
// is refused when older than the tolerance, not when ahead of this clock.
func TestStripeRefusesOnlyOldTimestamps(t *testing.T) {
	t.Parallel()
	fresh, _, _ := signAll(t)
	for i, c := range providerCases {
		if c.name != "stripe" {
			continue
		}
		s := c.settings
		s.Name = "payments"
		s.NowFunc = func() time.Time { return now.Add(-10 * time.Minute) } // this clock is behind
		src, err := source.New(s)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/payments", strings.NewReader(c.job.Body))
		req.Header = fresh[i].Clone()
		if _, err := src.Verify(req, []byte(c.job.Body)); err != nil {
			t.Errorf("signed ten minutes ahead of this clock: %v", err)
		}
	}
}

// officialVerify checks headers that Sign made with each provider's
// official library, and prints whether it accepted them.
const officialVerify = `
import { readFileSync } from "node:fs";
import { Webhook as Standard } from "standardwebhooks";
import Stripe from "stripe";
import { verify as octokitVerify } from "@octokit/webhooks-methods";
import twilio from "twilio";
import "@shopify/shopify-api/adapters/web-api";
import { shopifyApi, ApiVersion, LogSeverity } from "@shopify/shopify-api";
import { createRequire } from "node:module";
const { generateXHub256Sig } = createRequire(import.meta.url)("./node_modules/whatsapp/build/utils.js");
const jobs = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const j of jobs) {
  const h = j.headers;
  try {
    switch (j.lib) {
    case "whatsapp": // as the SDK's webhook listener compares them
      out.push(generateXHub256Sig(j.body, j.secret) == h["x-hub-signature-256"].replace("sha256=", ""));
      break;
    case "shopify": {
      const shopify = shopifyApi({ apiKey: "unused", apiSecretKey: j.secret, hostName: "hooks.example.com", apiVersion: ApiVersion.October25,
        isEmbeddedApp: false, logger: { level: LogSeverity.Error, log: () => {} } });
      // The headers every Shopify webhook has beside the signature.
      const headers = { "x-shopify-topic": "orders/create", "x-shopify-shop-domain": "shop.myshopify.com",
        "x-shopify-api-version": "2025-10", "x-shopify-webhook-id": "w-1", ...h };
      const r = await shopify.webhooks.validate({ rawBody: j.body, rawRequest: new Request(j.url, { method: "POST", headers, body: j.body }) });
      out.push(r.valid || r.reason);
      break;
    }
    case "standardwebhooks":
      new Standard(j.secret).verify(j.body, h);
      out.push(true);
      break;
    case "stripe":
      new Stripe("sk_test_unused").webhooks.constructEvent(j.body, h["stripe-signature"], j.secret, 1e9);
      out.push(true);
      break;
    case "octokit":
      out.push(await octokitVerify(j.secret, j.body, h["x-hub-signature-256"]));
      break;
    case "twilio":
      if (j.url.includes("bodySHA256")) {
        out.push(twilio.validateRequestWithBody(j.secret, h["x-twilio-signature"], j.url, j.body));
        break;
      }
      out.push(twilio.validateRequest(j.secret, h["x-twilio-signature"], j.url, Object.fromEntries(new URLSearchParams(j.body))));
      break;
    }
  } catch (e) {
    out.push(String(e));
  }
}
process.stdout.write(JSON.stringify(out));
`

// TestOfficialLibrariesVerifyOurSignatures: what Sign makes for each
// provider is accepted by that provider's own library, so that `sign
// --provider` produces requests a provider's SDK would take.
func TestOfficialLibrariesVerifyOurSignatures(t *testing.T) {
	t.Parallel()
	type verifyJob struct {
		Lib     string            `json:"lib"`
		Secret  string            `json:"secret"`
		Body    string            `json:"body"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	}
	var jobs []verifyJob
	for _, c := range providerCases {
		if c.job.Algorithm != "" {
			continue // Sign uses Twilio's default algorithm
		}
		c.settings.Name = c.name
		src, err := source.New(c.settings)
		if err != nil {
			t.Fatal(err)
		}
		url := c.job.URL
		if url == "" {
			url = "https://hooks.example.com/webhooks/" + c.name
		}
		// Twilio posts a JSON body to the URL with its bodySHA256.
		url = source.PostURL(src.(source.Signer), url, []byte(c.job.Body))
		if c.job.JSON != strings.Contains(url, "bodySHA256=") {
			t.Errorf("%s: PostURL = %s", c.name, url)
		}
		h, err := src.(source.Signer).Sign(url, []byte(c.job.Body), time.Now(), "msg_signed_by_hooklatch")
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{}
		for k := range h {
			headers[strings.ToLower(k)] = h.Get(k)
		}
		jobs = append(jobs, verifyJob{Lib: c.job.Lib, Secret: c.job.Secret, Body: c.job.Body, URL: url, Headers: headers})
	}
	var out []any
	providertest.Run(t, officialVerify, jobs, &out)
	for i, j := range jobs {
		if out[i] != true {
			t.Errorf("%s refused what Sign made (%v): %v", j.Lib, j.Headers, out[i])
		}
	}
}

// TestTwilioJSONBody: a JSON-bodied Twilio webhook, signed by twilio's own
// library over the URL with the body's bodySHA256, is accepted at that URL
// with or without public_url, and as a released rejection (its URL not
// kept); the body changed on the way is refused though the URL's signature
// matches, and the diagnosis says how it changed.
func TestTwilioJSONBody(t *testing.T) {
	t.Parallel()
	body := `{"id":"EV0123","type":"com.twilio.messaging.message.delivered"}`
	var out []map[string]string
	providertest.Run(t, officialSign, []job{{Lib: "twilio", Secret: "12345abcdef67890", URL: twilioURL, JSON: true, Body: body}}, &out)
	sig, signedURL := out[0]["x-twilio-signature"], out[0]["x-signed-url"]
	if !strings.Contains(signedURL, "&bodySHA256=") {
		t.Fatalf("twilio signed %q: want the URL with its bodySHA256", signedURL)
	}
	verify := func(public, at, body string) (source.Verified, error, signature.Diagnosis) {
		t.Helper()
		src, err := source.New(source.Settings{Name: "twilio", Provider: "twilio", Secrets: []string{"12345abcdef67890"}, PublicURL: public})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, at, strings.NewReader(body))
		req.Header.Set("X-Twilio-Signature", sig)
		req.Header.Set("Content-Type", "application/json")
		v, err := src.VerifyAt(req, []byte(body), now)
		return v, err, src.Diagnose(req.Header, at, []byte(body), now)
	}
	want := source.Verified{EventID: "EV0123", Type: "com.twilio.messaging.message.delivered"}
	for _, c := range []struct{ name, public, at string }{
		{"at the signed URL", "", signedURL},
		{"with public_url", twilioURL, signedURL},
		{"released", twilioURL, "http://localhost/"},
	} {
		if v, err, _ := verify(c.public, c.at, body); err != nil || v != want {
			t.Errorf("%s: Verify = %+v, %v; want %+v", c.name, v, err, want)
		}
	}
	changed := strings.Replace(body, "EV0123", "EV0124", 1)
	_, err, d := verify(twilioURL, signedURL, changed)
	if !errors.Is(err, signature.ErrNoMatch) || !strings.Contains(err.Error(), "bodySHA256") || !hasCause(d, signature.CauseNoSecretMatched) || !strings.Contains(d.String(), "bodySHA256") {
		t.Errorf("one byte changed: %v\n%s", err, d)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(body), "", "  "); err != nil {
		t.Fatal(err)
	}
	_, err, d = verify(twilioURL, signedURL, pretty.String())
	if !errors.Is(err, signature.ErrNoMatch) || !hasCause(d, signature.CauseBodyReformatted) {
		t.Errorf("re-serialised: %v\n%s", err, d)
	}
	if _, err, _ := verify(twilioURL, signedURL+"0", body); !errors.Is(err, signature.ErrNoMatch) {
		t.Errorf("another bodySHA256 in the URL: %v, want no match", err)
	}
}
