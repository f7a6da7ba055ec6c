package devtools

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/source"
)

// Every provider sample, signed as its provider does, verifies through
// that provider's source and reads as the type it is named after; each
// sample is a new event.
func TestProviderSamplesVerifyAsTheirProvider(t *testing.T) {
	t.Parallel()
	const url = "http://localhost:3000/webhooks/sample"
	secrets := map[string]string{"stripe": "whsec_sample", "github": "gh-secret", "shopify": "shop-secret", "slack": "slack-secret",
		"meta": "app-secret", "twilio": "auth-token", "standard-webhooks": "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="}
	wantType := map[string]string{"push": "push", "pull_request": "pull_request", "issues": "issues",
		"messages": "whatsapp_business_account.messages", "statuses": "whatsapp_business_account.messages"}
	now := time.Now()
	for provider, secret := range secrets {
		types := ProviderSampleTypes(provider)
		if len(types) < 2 {
			t.Errorf("%s: %d samples, want a few", provider, len(types))
		}
		src, err := source.New(source.Settings{Name: provider, Provider: provider, Secrets: []string{secret}, VerifyToken: "t", PublicURL: url})
		if err != nil {
			t.Fatal(err)
		}
		reqs, err := ProviderSamples(provider, types, 2, now)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range reqs {
			h, err := src.(source.Signer).Sign(url, r.Body, now, "msg_sample")
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(r.Body))
			req.Header = h
			req.Header.Set("Content-Type", r.ContentType)
			for k, v := range r.Header {
				req.Header.Set(k, v)
			}
			v, err := src.Verify(req, r.Body)
			want := r.Name
			if w, ok := wantType[r.Name]; ok {
				want = w
			}
			if err != nil || v.Type != want {
				t.Errorf("%s %s: verified %+v, %v; want type %s", provider, r.Name, v, err, want)
			}
			if i%2 == 1 && bytes.Equal(r.Body, reqs[i-1].Body) {
				t.Errorf("%s %s: two samples with one body", provider, r.Name)
			}
		}
	}
	if _, err := ProviderSamples("stripe", []string{"charge.teleported"}, 1, now); err == nil {
		t.Error("an unknown stripe sample was built")
	}
}
