package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/internal/providertest"
	"github.com/hooklatch/hooklatch/source"
)

// twilioValidate checks each request with twilio's own library, as an app
// written for Twilio does: validateRequestWithBody when the URL carries
// bodySHA256 (a JSON body), validateRequest with the form's parameters
// otherwise.
const twilioValidate = `
import { readFileSync } from "node:fs";
import twilio from "twilio";
const reqs = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(reqs.map(r => {
  const sig = r.signature;
  if (new URL(r.url).searchParams.has("bodySHA256")) return twilio.validateRequestWithBody(r.secret, sig, r.url, r.body);
  return twilio.validateRequest(r.secret, sig, r.url, Object.fromEntries(new URLSearchParams(r.body)));
})));
`

// twilioRequest is a request as the app got it.
type twilioRequest struct {
	What      string `json:"what"`
	Secret    string `json:"secret"`
	URL       string `json:"url"`
	Signature string `json:"signature"`
	Body      string `json:"body"`
}

// twilioApp records the requests it gets, each with the URL it was posted
// at.
func twilioApp(t *testing.T, secret, what string, got chan<- twilioRequest) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- twilioRequest{What: what, Secret: secret, URL: "http://" + r.Host + r.URL.RequestURI(), Signature: r.Header.Get("X-Twilio-Signature"), Body: string(body)}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTwilioRequestsValidateWithTwilio: what sign --format curl, trigger
// and listen's forwarding send as Twilio is accepted by twilio's own
// validateRequest(WithBody): a JSON body goes to the URL with the
// bodySHA256 Twilio adds to it, which the signature covers.
func TestTwilioRequestsValidateWithTwilio(t *testing.T) {
	t.Parallel()
	const secret = "12345abcdef67890"
	jsonBody := `{"specversion":"1.0","id":"EV0123","type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SM42"}}`
	formBody := "MessageSid=SM42&MessageStatus=delivered&AccountSid=AC123"
	var reqs []twilioRequest

	// sign --format curl: the URL and header it prints.
	curlURL := regexp.MustCompile(`curl -sS -X POST '([^']+)'`)
	curlSig := regexp.MustCompile(`-H 'X-Twilio-Signature: ([^']+)'`)
	dir := t.TempDir()
	for _, c := range []struct{ what, body string }{{"sign, JSON body", jsonBody}, {"sign, form body", formBody}} {
		file := filepath.Join(dir, "body")
		os.WriteFile(file, []byte(c.body), 0o644)
		r := run(t, nil, "", "sign", "--provider", "twilio", "--secret", secret, "--format", "curl", "--url", "https://hooks.example.com/sms?tenant=7", file)
		u, sig := curlURL.FindStringSubmatch(r.stdout), curlSig.FindStringSubmatch(r.stdout)
		if r.code != 0 || u == nil || sig == nil {
			t.Fatalf("%s: exit %d\n%s%s", c.what, r.code, r.stdout, r.stderr)
		}
		reqs = append(reqs, twilioRequest{What: c.what, Secret: secret, URL: u[1], Signature: sig[1], Body: c.body})
	}

	// trigger --to: its samples are forms.
	got := make(chan twilioRequest, 10)
	app := twilioApp(t, secret, "trigger", got)
	if r := run(t, nil, "", "trigger", "--provider", "twilio", "--secret", secret, "message.delivered", "--to", app.URL+"/sms"); r.code != 0 {
		t.Fatalf("trigger: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	reqs = append(reqs, <-got)

	// listen --forward-to: a JSON body Twilio posted, forwarded re-signed
	// with the app's secret over the app's URL.
	const fwdSecret = "fedcba0987654321"
	app = twilioApp(t, fwdSecret, "listen, JSON body", got)
	out := newWatchedBuffer()
	vars := map[string]string{"SENT_WEBHOOK_SECRET": secret, "NO_COLOR": "1"}
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: &logtest.Buffer{}, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"listen", "--provider", "twilio", "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "l.db"),
			"--forward-to", app.URL + "/events", "--forward-secret", fwdSecret}, env)
	}()
	listenURL := out.waitFor(t, regexp.MustCompile(`listening +(http://\S+/webhooks/twilio)`), exited)
	signer, err := source.New(source.Settings{Name: "twilio", Provider: "twilio", Secrets: []string{secret}})
	if err != nil {
		t.Fatal(err)
	}
	to := source.PostURL(signer.(source.Signer), listenURL, []byte(jsonBody))
	h, err := signer.(source.Signer).Sign(to, []byte(jsonBody), time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Content-Type", "application/json")
	if code := post(t, to, h, jsonBody); code != http.StatusOK {
		t.Fatalf("listen answered %d", code)
	}
	select {
	case r := <-got:
		reqs = append(reqs, r)
	case <-time.After(30 * time.Second): // a guard against a hang, not a measure
		t.Fatalf("nothing forwarded:\n%s", out)
	}
	cancel()
	<-exited

	var valid []bool
	providertest.Run(t, twilioValidate, reqs, &valid)
	for i, r := range reqs {
		if !valid[i] {
			t.Errorf("%s: twilio refused the request posted to %s", r.What, r.URL)
		}
	}
}
