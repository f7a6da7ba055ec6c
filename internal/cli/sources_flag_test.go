package cli_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/source"
)

// TestServeSourceFlagSettings: --source NAME=PROVIDER,key=value configures
// what the flag form could not before: Meta's verify token (from the
// environment), Twilio's public URL, and the generic hmac provider's
// header, algorithm, encoding and prefix, and a path; each is used.
func TestServeSourceFlagSettings(t *testing.T) {
	t.Parallel()
	const publicURL = "https://hooks.example.com/twilio/sms"
	vars := map[string]string{
		"SENT_WEBHOOK_SECRET":              v1Secret,
		"HOOKLATCH_SOURCE_WA_SECRET":       "meta-app-secret",
		"HOOKLATCH_SOURCE_WA_VERIFY_TOKEN": "meta-verify-token",
		"HOOKLATCH_SOURCE_SMS_SECRET":      "twilio-auth-token",
		"HOOKLATCH_SOURCE_ACME_SECRET":     "acme-secret",
	}
	addr, stop := serveArgs(t, vars, "--store", filepath.Join(t.TempDir(), "h.db"), "--admin-addr", "off",
		"--source", "wa=meta",
		"--source", "sms=twilio,public_url="+publicURL,
		"--source", "acme=hmac,header=X-Acme-Signature,algorithm=sha512,encoding=base64,prefix=sha512=,path=/hooks/acme")
	defer stop()
	base := "http://" + addr

	// Meta's subscription GET is answered with the challenge, with the
	// token from the environment only.
	resp, err := http.Get(base + "/webhooks/wa?hub.mode=subscribe&hub.verify_token=meta-verify-token&hub.challenge=1158201444")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(got) != "1158201444" {
		t.Errorf("meta handshake: %d %q", resp.StatusCode, got)
	}

	// Twilio signs the public URL, not the one the request arrives at.
	form := url.Values{"MessageSid": {"SM0123"}, "Body": {"hi"}, "From": {"+14155550100"}}.Encode()
	tw, err := source.New(source.Settings{Name: "sms", Provider: "twilio", Secrets: []string{"twilio-auth-token"}, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tw.(source.Signer).Sign(publicURL, []byte(form), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	if code := post(t, base+"/webhooks/sms", h, form); code != http.StatusOK {
		t.Errorf("twilio signed over the public URL: %d", code)
	}

	// The generic provider, computed here by hand: base64 HMAC-SHA512
	// after a prefix, at the path given.
	body := `{"id":"acme_1","kind":"order.created"}`
	mac := hmac.New(sha512.New, []byte("acme-secret"))
	mac.Write([]byte(body))
	h = http.Header{"Content-Type": {"application/json"}, "X-Acme-Signature": {"sha512=" + base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
	if code := post(t, base+"/hooks/acme", h, body); code != http.StatusOK {
		t.Errorf("hmac: %d", code)
	}
	h.Set("X-Acme-Signature", "sha512="+base64.StdEncoding.EncodeToString([]byte("forged")))
	if code := post(t, base+"/hooks/acme", h, body); code != http.StatusUnauthorized {
		t.Errorf("hmac, forged: %d", code)
	}
}

func post(t *testing.T, u string, h http.Header, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServeSourceFlagErrors: a --source (or sources: entry) that is wrong
// is exit 2 with a message naming what is wrong, and a secret or verify
// token on the command line is refused, naming its environment variable.
func TestServeSourceFlagErrors(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": v1Secret, "HOOKLATCH_SOURCE_WA_SECRET": "s", "HOOKLATCH_SOURCE_ACME_SECRET": "s",
		"HOOKLATCH_SOURCE_P_SECRET": "s"}
	file := filepath.Join(t.TempDir(), "hooklatch.yaml")
	os.WriteFile(file, []byte("admin_addr: \"off\"\nsources:\n  - {name: p, provider: stripe, verify_token: abc}\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--source", "wa=meta"}, []string{`--source "wa=meta"`, "no verify token", "HOOKLATCH_SOURCE_WA_VERIFY_TOKEN"}},
		{[]string{"--source", "wa=meta,verify_token=abc"}, []string{"not taken on the command line", "HOOKLATCH_SOURCE_WA_VERIFY_TOKEN"}},
		{[]string{"--source", "p=stripe,secret=whsec_abc"}, []string{"not taken on the command line", "HOOKLATCH_SOURCE_P_SECRET"}},
		{[]string{"--source", "acme=hmac"}, []string{"needs the header", "header=X-Signature"}},
		{[]string{"--source", "acme=hmac,header=X-Sig,algorithm=md5"}, []string{`hmac.algorithm "md5"`}},
		{[]string{"--source", "acme=hmac,header=X-Sig,encoding=base32"}, []string{`hmac.encoding "base32"`}},
		{[]string{"--source", "p=stripe,public_url=https://x.example/h"}, []string{"public_url= is Twilio's setting, not stripe's"}},
		{[]string{"--source", "p=stripe,header=X-Sig"}, []string{"header=", "generic hmac provider's settings, not stripe's"}},
		{[]string{"--source", "p=stripe,colour=blue"}, []string{`no setting "colour"`, "public_url (twilio)"}},
		{[]string{"--source", "p=stripe,tolerance=soon"}, []string{"tolerance: want a duration"}},
		{[]string{"--source", "p=stripe,path"}, []string{`"path": want key=value`}},
		{[]string{"--source", "p=stripe,path=/a,path=/b"}, []string{"path is given twice"}},
		{[]string{"--source", "p=stripe", "--source", "q=github,path=/webhooks/p"}, []string{`--source "q=github,path=/webhooks/p": --source "p=stripe" is at /webhooks/p already`}},
		{[]string{"--config", file}, []string{"sources[0] (p): verify_token: is Meta's setting, not stripe's"}},
	} {
		// Cancelled from the start: a serve that took the settings
		// stops at once instead of running.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var o, e bytes.Buffer
		code := cli.Main(ctx, append([]string{"serve", "--admin-addr", "off", "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "h.db")}, tc.args...),
			cli.Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string { return vars[k] }})
		r := result{code, o.String(), e.String()}
		if r.code != cli.ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, r.code, cli.ExitUsage, r.stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%v: %q does not say %q", tc.args, r.stderr, w)
			}
		}
	}
}
