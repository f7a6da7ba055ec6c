package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/providertest"
	"github.com/hooklatch/hooklatch/source"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// TestServeReceivesConfiguredSources: serve with a sources: list receives
// Sent at its source's path and Stripe at its own, the Stripe secret read
// from the source's environment variable, and stores each event under its
// source; a misconfigured source is a usage error naming it.
func TestServeReceivesConfiguredSources(t *testing.T) {
	t.Parallel()
	const stripeSecret = "whsec_cli_payments_secret"
	body := `{"id":"evt_cli_1","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_1"}}}`
	var signed struct{ Header string }
	providertest.Run(t, `
import { readFileSync } from "node:fs";
import Stripe from "stripe";
const inp = JSON.parse(readFileSync(0, "utf8"));
const header = new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload: inp.body, secret: inp.secret });
process.stdout.write(JSON.stringify({ header }));
`, map[string]string{"body": body, "secret": stripeSecret}, &signed)

	dir := t.TempDir()
	storePath := filepath.Join(dir, "h.db")
	config := filepath.Join(dir, "hooklatch.yaml")
	os.WriteFile(config, []byte(`
store: `+storePath+`
admin_addr: "off"
sources:
  - name: sent
    provider: sent
    secrets: [`+v1Secret+`]
  - name: payments
    provider: stripe
    path: /hooks/stripe
destinations:
  - name: billing
    sources: [payments]
    log: {}
  - name: everything
    log: {}
`), 0o644)
	vars := map[string]string{"HOOKLATCH_SOURCE_PAYMENTS_SECRET": stripeSecret}
	addr, stop := serveSources(t, config, vars)
	if code := postStripe(t, "http://"+addr+"/hooks/stripe", body, signed.Header); code != http.StatusOK {
		t.Errorf("stripe: %d", code)
	}
	stop()

	st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	page, err := st.ListEvents(context.Background(), store.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]string{}
	for _, ev := range page {
		sources[ev.Source] = ev.Type
	}
	if sources["sent"] != "message.delivered" || sources["payments"] != "checkout.session.completed" || len(sources) != 2 {
		t.Errorf("stored events by source: %v", sources)
	}
	// The destination that names a source takes its events only.
	for _, ev := range page {
		ds, err := st.ListDeliveries(context.Background(), store.DeliveryFilter{EventID: ev.ID})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range ds {
			names = append(names, d.Destination)
		}
		want := "[everything]"
		if ev.Source == "payments" {
			want = "[billing everything]"
		}
		if got := fmt.Sprint(names); got != want {
			t.Errorf("the %s event went to %s, want %s", ev.Source, got, want)
		}
	}

	os.WriteFile(config, []byte("admin_addr: \"off\"\nsources:\n  - name: shop\n    provider: shopfy\n    secrets: [x]\n"), 0o644)
	if r := run(t, nil, "", "serve", "--config", config); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "sources[0] (shop)") || !strings.Contains(r.stderr, "shopfy") {
		t.Errorf("unknown provider: exit %d, %s", r.code, r.stderr)
	}
	os.WriteFile(config, []byte("admin_addr: \"off\"\nsources:\n  - name: shop\n    provider: shopify\n"), 0o644)
	if r := run(t, nil, "", "serve", "--config", config); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "HOOKLATCH_SOURCE_SHOP_SECRET") {
		t.Errorf("no secret: exit %d, %s", r.code, r.stderr)
	}
	os.WriteFile(config, []byte("admin_addr: \"off\"\nsecret: "+v1Secret+"\ndestinations:\n  - {name: billing, sources: [paymnets], log: {}}\n"), 0o644)
	if r := run(t, nil, "", "serve", "--config", config); r.code != cli.ExitUsage || !strings.Contains(r.stderr, `"paymnets" is not a source`) {
		t.Errorf("a destination's unknown source: exit %d, %s", r.code, r.stderr)
	}
	// --source replaces the file's sources.
	if r := run(t, nil, "", "serve", "--config", config, "--source", "payments=stripe"); r.code != cli.ExitUsage ||
		!strings.Contains(r.stderr, "HOOKLATCH_SOURCE_PAYMENTS_SECRET") || strings.Contains(r.stderr, "shop") {
		t.Errorf("--source without a secret: exit %d, %s", r.code, r.stderr)
	}
	if r := run(t, nil, "", "serve", "--source", "/x=stripe"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "NAME=PROVIDER") {
		t.Errorf("--source with a bad name: exit %d, %s", r.code, r.stderr)
	}
}

// TestVerifyWithAProvider: verify --provider checks a request signed by
// the provider's official library (stripe, @octokit/webhooks-methods) by
// that provider's rules, and explains a mismatch with its diagnosis.
func TestVerifyWithAProvider(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_verify_1","object":"event","type":"invoice.paid"}`
	var signed struct{ Stripe, GitHub string }
	providertest.Run(t, `
import { readFileSync } from "node:fs";
import Stripe from "stripe";
import { sign } from "@octokit/webhooks-methods";
const inp = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({
  Stripe: new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload: inp.body, secret: "whsec_verify", timestamp: 1761905442 }),
  GitHub: await sign("gh-secret", inp.body),
}));
`, map[string]string{"body": body}, &signed)
	dir := t.TempDir()
	file := filepath.Join(dir, "body.json")
	os.WriteFile(file, []byte(body), 0o644)
	r := run(t, nil, "", "verify", "--provider", "stripe", "--secret", "whsec_verify", "--now", "1761905500", file, "-H", "Stripe-Signature: "+signed.Stripe)
	if r.code != 0 || !strings.Contains(r.stdout, "OK: stripe signature verified") || !strings.Contains(r.stdout, `"evt_verify_1"`) {
		t.Errorf("stripe: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "", "verify", "--provider", "stripe", "--secret", "whsec_verify", "--now", "1761906000", file, "-H", "Stripe-Signature: "+signed.Stripe)
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "stale_timestamp") {
		t.Errorf("stripe, ten minutes late: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, map[string]string{"SENT_WEBHOOK_SECRET": "another"}, "", "verify", "--provider", "github", file, "-H", "X-Hub-Signature-256: "+signed.GitHub)
	if r.code != cli.ExitFailed || !strings.Contains(r.stdout, "no_secret_matched") {
		t.Errorf("github, another secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// serveSources runs serve with config and the environment vars until stop,
// once Sent's endpoint at /webhooks/sent answers.
func serveSources(t *testing.T, config string, vars map[string]string) (addr string, stop func()) {
	t.Helper()
	return serveArgs(t, vars, "--config", config)
}

// serveArgs runs serve with args and the environment vars until stop,
// once Sent's endpoint at /webhooks/sent answers.
func serveArgs(t *testing.T, vars map[string]string, args ...string) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		var o, e bytes.Buffer
		code := cli.Main(ctx, append([]string{"serve", "--log-level", "error", "--addr", addr}, args...),
			cli.Env{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e, Getenv: func(k string) string { return vars[k] }})
		done <- result{code, o.String(), e.String()}
	}()
	for {
		if r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "trigger", "--to", "http://"+addr+"/webhooks/sent", "message.delivered"); r.code == 0 {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("serve exited %d: %s", r.code, r.stderr)
		case <-time.After(20 * time.Millisecond): // not listening yet
		}
	}
	return addr, func() {
		cancel()
		if r := <-done; r.code != 0 {
			t.Fatalf("serve exited %d: %s", r.code, r.stderr)
		}
	}
}

// TestReleaseASourcesRejection: a Stripe request refused while serve held
// the wrong secret is released once the secret is fixed, verified by the
// source as of its arrival and stored under its source; released again,
// it is reported as released already.
func TestReleaseASourcesRejection(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_release_1","object":"event","type":"invoice.paid","data":{"object":{"id":"in_9"}}}`
	var signed struct{ Header string }
	providertest.Run(t, `
import { readFileSync } from "node:fs";
import Stripe from "stripe";
const inp = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({ header: new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload: inp.body, secret: "whsec_right" }) }));
`, map[string]string{"body": body}, &signed)
	dir := t.TempDir()
	storePath := filepath.Join(dir, "h.db")
	config := filepath.Join(dir, "hooklatch.yaml")
	os.WriteFile(config, []byte("store: "+storePath+"\nadmin_addr: \"off\"\nsecret: "+v1Secret+"\nsources:\n  - name: payments\n    provider: stripe\n"), 0o644)
	addr, stop := serveSources(t, config, map[string]string{"HOOKLATCH_SOURCE_PAYMENTS_SECRET": "whsec_wrong"})
	if code := postStripe(t, "http://"+addr+"/webhooks/payments", body, signed.Header); code != http.StatusUnauthorized {
		t.Fatalf("with the wrong secret: %d", code)
	}
	stop()

	fixed := map[string]string{"HOOKLATCH_SOURCE_PAYMENTS_SECRET": "whsec_right", "HOOKLATCH_STORE": storePath}
	r := run(t, fixed, "", "rejections", "release", "--all", "--config", config)
	if r.code != 0 || !strings.Contains(r.stdout, "1 released") {
		t.Fatalf("release: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := st.ListEvents(context.Background(), store.EventFilter{Type: "invoice.paid", Limit: 10})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].Source != "payments" || page[0].DedupeKey != "event-id:evt_release_1" || page[0].Scheme != "stripe" {
		t.Fatalf("released events: %+v", page)
	}
	if r := run(t, fixed, "", "rejections", "release", "--all", "--config", config); r.code != 0 || !strings.Contains(r.stdout, "0 released") {
		t.Errorf("released again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// postStripe posts body with its Stripe-Signature and returns the status.
func postStripe(t *testing.T, url, body, signature string) int {
	t.Helper()
	return post(t, url, http.Header{"Stripe-Signature": {signature}}, body)
}

// TestSignWithAProvider: sign --provider stripe prints headers that
// stripe's own constructEvent accepts, and that verify --provider checks.
func TestSignWithAProvider(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_sign_1","object":"event","type":"customer.created"}`
	file := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(file, []byte(body), 0o644)
	r := run(t, nil, "", "sign", "--provider", "stripe", "--secret", "whsec_sign", "--format", "json", file)
	if r.code != 0 {
		t.Fatalf("sign: exit %d: %s", r.code, r.stderr)
	}
	var h map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil || h["Stripe-Signature"] == "" {
		t.Fatalf("sign printed %q: %v", r.stdout, err)
	}
	var out struct{ Type string }
	providertest.Run(t, `
import { readFileSync } from "node:fs";
import Stripe from "stripe";
const inp = JSON.parse(readFileSync(0, "utf8"));
const ev = new Stripe("sk_test_unused").webhooks.constructEvent(inp.body, inp.header, "whsec_sign");
process.stdout.write(JSON.stringify({ Type: ev.type }));
`, map[string]string{"body": body, "header": h["Stripe-Signature"]}, &out)
	if out.Type != "customer.created" {
		t.Errorf("stripe's constructEvent read type %q", out.Type)
	}
	r = run(t, nil, "", "verify", "--provider", "stripe", "--secret", "whsec_sign", file, "-H", "Stripe-Signature: "+h["Stripe-Signature"])
	if r.code != 0 {
		t.Errorf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// sign --provider twilio for a JSON body says which URL the signature
// covers (the URL with the body's bodySHA256), since headers alone cannot.
func TestSignTwilioJSONNamesTheURL(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "body.json")
	os.WriteFile(file, []byte(`{"MessageSid":"SM1"}`), 0o644)
	for _, format := range []string{"headers", "json"} {
		r := run(t, nil, "", "sign", "--provider", "twilio", "--secret", "tw_auth", "--url", "https://example.com/webhooks/twilio", "--format", format, file)
		if r.code != 0 || !strings.Contains(r.stdout, "X-Twilio-Signature") {
			t.Fatalf("%s: exit %d: %s%s", format, r.code, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stderr, "post to https://example.com/webhooks/twilio?bodySHA256=") {
			t.Errorf("%s: stderr %q names no URL to post to", format, r.stderr)
		}
	}
}

// trigger --provider sends that provider's samples signed as it signs: a
// receiver verifying with the provider's rules accepts each, as its type;
// Twilio's signature covers the --to URL.
func TestTriggerWithAProvider(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ provider, secret, typ, wantType string }{
		{"stripe", "whsec_trigger", "invoice.paid", "invoice.paid"},
		{"github", "gh-trigger", "push", "push"},
		{"twilio", "auth-trigger", "message.received", "message.received"},
	} {
		var got []string
		var src source.Source
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			v, err := src.Verify(r, body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			got = append(got, v.Type)
		}))
		var err error
		src, err = source.New(source.Settings{Name: tc.provider, Provider: tc.provider, Secrets: []string{tc.secret}, PublicURL: srv.URL + "/hook"})
		if err != nil {
			t.Fatal(err)
		}
		r := run(t, nil, "", "trigger", "--provider", tc.provider, "--secret", tc.secret, "--count", "2", tc.typ, "--to", srv.URL+"/hook")
		srv.Close()
		if r.code != 0 || len(got) != 2 || got[0] != tc.wantType {
			t.Errorf("%s: exit %d, verified types %v\n%s%s", tc.provider, r.code, got, r.stdout, r.stderr)
		}
	}
	if r := run(t, nil, "", "trigger", "--provider", "stripe", "--list"); r.code != 0 || !strings.Contains(r.stdout, "invoice.paid\n") {
		t.Errorf("--list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "", "trigger", "--provider", "stripe", "--secret", "whsec_x", "charge.teleported", "--print"); r.code != cli.ExitUsage {
		t.Errorf("an unknown sample: exit %d, want a usage error\n%s", r.code, r.stderr)
	}
}
