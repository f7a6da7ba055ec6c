package source_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/source"
)

// FuzzVerify feeds every provider untrusted headers and bodies: Verify
// and Diagnose must not panic, and nothing unsigned verifies.
func FuzzVerify(f *testing.F) {
	f.Add("t=1761905442,v1=abc,v0=def", "sha256=00", "1761905442", `{"id":"evt_1","type":"x"}`)
	f.Add("v1,AAAA v1,BBBB", "v0=zz", "", "a=b&c=d")
	f.Add(",,=,t=,v1=", "", "99999999999999999999", "")
	var sources []source.Source
	for _, p := range source.Providers() {
		src, err := source.New(source.Settings{
			Name: p, Provider: p, Secrets: []string{"whsec_c2VjcmV0LWtleS0wMTIzNDU2Nzg5"}, VerifyToken: "t", PublicURL: "https://x/y",
			HMAC:    source.HMACSettings{Header: "X-Sig", Template: "{timestamp}.{body}", TimestampHeader: "X-Ts"},
			NowFunc: func() time.Time { return now },
		})
		if err != nil {
			f.Fatal(err)
		}
		sources = append(sources, src)
	}
	f.Fuzz(func(t *testing.T, sig, alt, ts, body string) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/x", strings.NewReader(body))
		for _, h := range []string{"Stripe-Signature", "Webhook-Signature", "X-Slack-Signature", "X-Sig", "X-Twilio-Signature", "X-Shopify-Hmac-Sha256"} {
			req.Header.Set(h, sig)
		}
		req.Header.Set("X-Hub-Signature-256", alt)
		for _, h := range []string{"Webhook-Timestamp", "X-Slack-Request-Timestamp", "X-Ts"} {
			req.Header.Set(h, ts)
		}
		req.Header.Set("Webhook-Id", "msg_1")
		for _, src := range sources {
			if _, err := src.Verify(req, []byte(body)); err == nil {
				t.Fatalf("%s verified an unsigned request", src.Provider())
			}
			src.Diagnose(req.Header, "https://x/y", []byte(body), now)
		}
	})
}
