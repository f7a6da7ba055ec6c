package receiver_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hooklatch/hooklatch/internal/providertest"
	"github.com/hooklatch/hooklatch/signature"
)

// standardSign signs with the official libraries of Standard Webhooks
// (standardwebhooks) and Svix (svix), and checks with their own verify that
// the headers they are given are what they expect.
const standardSign = `
import { readFileSync } from "node:fs";
import { Webhook as Standard } from "standardwebhooks";
import { Webhook as Svix } from "svix";
const inp = JSON.parse(readFileSync(0, "utf8"));
const at = new Date(inp.unix * 1000);
const out = {};
{
  const wh = new Standard(inp.secret);
  const sig = wh.sign(inp.id, at, inp.body);
  const headers = { "webhook-id": inp.id, "webhook-timestamp": String(inp.unix), "webhook-signature": sig };
  out.standard = headers;
}
{
  const wh = new Svix(inp.secret);
  const sig = wh.sign(inp.id, at, inp.body);
  out.svix = { "svix-id": inp.id, "svix-timestamp": String(inp.unix), "svix-signature": sig };
}
process.stdout.write(JSON.stringify(out));
`

// TestStandardWebhooksHeaderNamesAreSentsScheme: Sent's v1 scheme is
// Standard Webhooks, so a request signed by the specification's official
// library under the specification's header names (webhook-*), or by Svix's
// under svix-*, is accepted by the Sent receiver as Sent's own v1 headers
// are; the same request with one byte changed is refused as a mismatch.
var lib2prefix = map[string]string{"standard": "webhook", "svix": "svix"}

func TestStandardWebhooksHeaderNamesAreSentsScheme(t *testing.T) {
	t.Parallel()
	body := readFixture(t, "f1.json")
	var signed map[string]map[string]string
	providertest.Run(t, standardSign, map[string]any{
		"secret": v1Secret, "id": "msg_2qX8zXlq1mVHw2tGkXr1", "unix": now.Unix(), "body": string(body),
	}, &signed)
	for _, lib := range []string{"standard", "svix"} {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			f := setup(t, options{})
			request := func(body []byte) *http.Request {
				req := httptest.NewRequest(http.MethodPost, "/webhooks/sent", bytes.NewReader(body))
				for k, v := range signed[lib] {
					req.Header.Set(k, v)
				}
				req.Header.Set("Content-Type", "application/json")
				return req
			}
			code, a, _ := f.do(t, request(body))
			if code != http.StatusOK || a.Status != "accepted" {
				t.Fatalf("answer = %d %+v", code, a)
			}
			ev, err := f.store.GetEvent(context.Background(), a.EventID)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Scheme != string(signature.V1) || ev.Type != "message.delivered" {
				t.Errorf("stored event = scheme %q type %q", ev.Scheme, ev.Type)
			}
			if id := ev.Headers[lib2prefix[lib]+"-id"]; id != "msg_2qX8zXlq1mVHw2tGkXr1" {
				t.Errorf("kept headers = %v", ev.Headers)
			}
			changed := bytes.Clone(body)
			changed[len(changed)/2] ^= 1
			code, a, _ = f.do(t, request(changed))
			if code != http.StatusUnauthorized || a.Reason != signature.ReasonCode(signature.ErrNoMatch) {
				t.Fatalf("one byte changed: answer = %d %+v", code, a)
			}
		})
	}
}
