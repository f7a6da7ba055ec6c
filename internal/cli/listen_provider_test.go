package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/source"
)

// TestListenCommandWithAProvider: listen --provider receives a provider's
// webhooks signed with its secret, and forwards each to an app that
// verifies them by that provider's rules with another secret
// (--forward-secret), carrying the provider's own headers; Twilio's are
// signed over the app's URL, not the listener's. Slack's handshake is
// answered, and a request signed with another secret is refused and
// diagnosed.
func TestListenCommandWithAProvider(t *testing.T) {
	t.Parallel()
	// whsec_ and base64, as Standard Webhooks wants; the others take any text.
	const (
		recvSecret  = "whsec_bGlzdGVuLXJlY2VpdmluZy1zZWNyZXQ="
		fwdSecret   = "whsec_bGlzdGVuLWZvcndhcmRpbmctc2VjcmV0"
		otherSecret = "whsec_c29tZW9uZS1lbHNlcy1zZWNyZXQ="
	)
	for _, tc := range []struct {
		provider, header string // header: one the app needs beside the signature
	}{
		{"github", "X-Github-Event"},
		{"stripe", ""},
		{"slack", ""},
		{"shopify", "X-Shopify-Topic"},
		{"twilio", ""},
		{"standard-webhooks", ""},
		{"meta", ""},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			verifier, err := source.New(source.Settings{Name: "app", Provider: tc.provider, Secrets: []string{fwdSecret}, VerifyToken: "unused"})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 10)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if _, err := verifier.Verify(r, body); err != nil {
					w.WriteHeader(http.StatusUnauthorized)
					got <- "refused: " + err.Error()
					return
				}
				if tc.header != "" && r.Header.Get(tc.header) == "" {
					w.WriteHeader(http.StatusBadRequest)
					got <- "without " + tc.header
					return
				}
				got <- "verified"
			}))
			defer app.Close()

			out, errOut := newWatchedBuffer(), &logtest.Buffer{}
			vars := map[string]string{"SENT_WEBHOOK_SECRET": recvSecret, "NO_COLOR": "1", "HOOKLATCH_SOURCE_META_VERIFY_TOKEN": "listen-token"}
			env := cli.Env{Stdin: strings.NewReader(""), Stdout: out, Stderr: errOut, Getenv: func(k string) string { return vars[k] }}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			exited := make(chan int, 1)
			go func() {
				exited <- cli.Main(ctx, []string{"listen", "--provider", tc.provider, "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "l.db"),
					"--forward-to", app.URL + "/hook", "--forward-secret", fwdSecret}, env)
			}()
			url := out.waitFor(t, regexp.MustCompile(`listening +(http://\S+/webhooks/`+regexp.QuoteMeta(tc.provider)+`)`), exited)
			// The banner's lines are written one at a time: the forwarding
			// line may come after the listening one is seen.
			out.waitFor(t, regexp.MustCompile(`signed as `+regexp.QuoteMeta(tc.provider)+` signs`), exited)
			if !strings.Contains(out.String(), "receiving "+tc.provider+" webhooks") {
				t.Errorf("banner:\n%s", out)
			}

			if r := run(t, vars, "", "trigger", "--provider", tc.provider, devtools.ProviderSampleTypes(tc.provider)[0], "--to", url); r.code != 0 {
				t.Fatalf("trigger: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			select {
			case s := <-got:
				if s != "verified" {
					t.Errorf("the app got the forwarded event %s", s)
				}
			case <-time.After(30 * time.Second): // a guard against a hang, not a measure
				t.Fatalf("nothing forwarded:\n%s", out)
			}

			r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": otherSecret}, "", "trigger", "--provider", tc.provider, devtools.ProviderSampleTypes(tc.provider)[0], "--to", url)
			if r.code == 0 {
				t.Errorf("a request signed with another secret was accepted")
			}
			out.waitFor(t, regexp.MustCompile(`✗ .*\n +↳ (no configured secret matched)`), exited)

			if tc.provider == "slack" {
				body := `{"token":"t","challenge":"chal-123","type":"url_verification"}`
				signer, _ := source.New(source.Settings{Name: "s", Provider: "slack", Secrets: []string{recvSecret}})
				h, _ := signer.(source.Signer).Sign(url, []byte(body), time.Now(), "")
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header = h
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), "chal-123") {
					t.Errorf("slack handshake: %d %s", resp.StatusCode, answer)
				}
			}
			if tc.provider == "meta" {
				resp, err := http.Get(url + "?hub.mode=subscribe&hub.verify_token=listen-token&hub.challenge=4242")
				if err != nil {
					t.Fatal(err)
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(answer) != "4242" {
					t.Errorf("meta handshake: %d %s", resp.StatusCode, answer)
				}
			}
			cancel()
			if code := <-exited; code != cli.ExitOK {
				t.Errorf("exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

// TestListenProviderUsageErrors: listen --provider's mistakes are exit 2
// naming what is wrong.
func TestListenProviderUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--provider", "meta", "--secret", "s"}, "HOOKLATCH_SOURCE_META_VERIFY_TOKEN"},
		{[]string{"--provider", "stripe", "--secret", "s", "--scheme", "v1"}, "--scheme is Sent's"},
		{[]string{"--provider", "stripe", "--secret", "s", "--forward-to", "http://127.0.0.1:1/", "--forward-scheme", "v1"}, "--forward-scheme is Sent's"},
		{[]string{"--provider", "github", "--secret", "s", "--path", "/a", "--provider", "github,path=/b"}, "name two paths"},
		{[]string{"--provider", "hmac", "--secret", "s"}, "add ,header=X-Signature"},
		{[]string{"--provider", "twilio,verify_token=x", "--secret", "s"}, "not taken on the command line"},
	} {
		r := run(t, nil, "", append([]string{"listen", "--addr", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "l.db")}, tc.args...)...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, %s; want %d and %q", tc.args, r.code, r.stderr, cli.ExitUsage, tc.want)
		}
	}
}
