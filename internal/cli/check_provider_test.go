package cli_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/source"
)

// TestCheckWithAProvider: check --provider stripe grades a handler that
// verifies Stripe's signature as passing and one that does not as failing
// (exit 1), naming the failed cases; a provider's missing setting is exit 2.
func TestCheckWithAProvider(t *testing.T) {
	t.Parallel()
	const secret = "whsec_check_cli_stripe"
	src, err := source.New(source.Settings{Name: "stripe", Provider: "stripe", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	handler := func(verifies bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if _, err := src.Verify(r, body); err != nil && verifies {
				w.WriteHeader(http.StatusBadRequest)
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/webhooks/stripe"
	}
	r := run(t, nil, "", "check", handler(true), "--provider", "stripe", "--secret", secret, "--burst", "5")
	if r.code != 0 || !strings.Contains(r.stdout, "PASS  accepts-stripe") || !strings.Contains(r.stdout, "SKIP  handshake") {
		t.Errorf("a handler that verifies: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, map[string]string{"HOOKLATCH_SOURCE_STRIPE_SECRET": secret}, "", "check", handler(false), "--provider", "stripe", "--burst", "5")
	if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "rejects-bad-signature, rejects-missing-signature, rejects-tampered-body, rejects-stale-timestamp") {
		t.Errorf("a handler that does not verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--provider", "meta", "--secret", "s"}, "HOOKLATCH_SOURCE_META_VERIFY_TOKEN"},
		{[]string{"--provider", "stripe", "--secret", "s", "--scheme", "v1"}, "--scheme is Sent's"},
		{[]string{"--provider", "strype", "--secret", "s"}, `unknown provider "strype"`},
		{[]string{"--provider", "hmac", "--secret", "s"}, "add ,header=X-Signature"},
		{[]string{"--provider", "stripe,public_url=https://x.example", "--secret", "s"}, "Twilio's setting"},
		{[]string{"--provider", "github"}, "HOOKLATCH_SOURCE_GITHUB_SECRET"},
		{[]string{"--provider", "stripe", "--secret", "s", "--only", "out-of-order"}, `no case "out-of-order"`},
	} {
		r := run(t, nil, "", append([]string{"check", "http://127.0.0.1:1/hook"}, tc.args...)...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, %s; want %d and %q", tc.args, r.code, r.stderr, cli.ExitUsage, tc.want)
		}
	}
}
