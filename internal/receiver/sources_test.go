package receiver_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hooklatch/hooklatch/internal/providertest"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// sourcesSign signs a Stripe event with stripe's generateTestHeaderString
// and a GitHub delivery with @octokit/webhooks-methods' sign.
const sourcesSign = `
import { readFileSync } from "node:fs";
import Stripe from "stripe";
import { sign } from "@octokit/webhooks-methods";
const inp = JSON.parse(readFileSync(0, "utf8"));
const stripe = new Stripe("sk_test_unused");
const out = {
  stripe: stripe.webhooks.generateTestHeaderString({ payload: inp.stripeBody, secret: inp.stripeSecret, timestamp: inp.unix }),
  stripeLater: stripe.webhooks.generateTestHeaderString({ payload: inp.stripeBody, secret: inp.stripeSecret, timestamp: inp.unix + 60 }),
  github: await sign(inp.githubSecret, inp.githubBody),
};
process.stdout.write(JSON.stringify(out));
`

const (
	stripeSecret = "whsec_payments_3k1Jd9Qx"
	githubSecret = "code-hosting-secret"
	stripeBody   = `{"id":"evt_1Q2w3E4r5T6y7U8i","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1Q2w3E","object":"invoice"}}}`
	githubBody   = `{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","repository":{"full_name":"octo/hello"}}`
)

func endpoints(t *testing.T) []receiver.Endpoint {
	t.Helper()
	clock := func() time.Time { return now }
	var eps []receiver.Endpoint
	for _, s := range []source.Settings{
		{Name: "payments", Provider: "stripe", Secrets: []string{stripeSecret}},
		{Name: "code", Provider: "github", Secrets: []string{githubSecret}},
		{Name: "code-mirror", Provider: "github", Secrets: []string{githubSecret}},
		{Name: "chat", Provider: "slack", Secrets: []string{"slack-signing-secret"}},
		{Name: "whatsapp", Provider: "meta", Secrets: []string{"app-secret"}, VerifyToken: "verify-me"},
	} {
		s.NowFunc = clock
		src, err := source.New(s)
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, receiver.Endpoint{Name: s.Name, Path: "/webhooks/" + s.Name, Source: src})
	}
	return eps
}

// TestSourcesKeepEveryGuarantee: beside Sent's endpoint, other providers'
// requests, signed by their official libraries, are stored before the 2xx
// under their source, accepted once per source (a Stripe retry re-signed
// later, a GitHub redelivery under a new X-GitHub-Delivery), and refused
// with the rejection kept under the source with its diagnosis; Sent's
// endpoint answers as before.
func TestSourcesKeepEveryGuarantee(t *testing.T) {
	t.Parallel()
	var signed struct{ Stripe, StripeLater, GitHub string }
	providertest.Run(t, sourcesSign, map[string]any{
		"stripeSecret": stripeSecret, "stripeBody": stripeBody, "githubSecret": githubSecret, "githubBody": githubBody, "unix": now.Unix(),
	}, &signed)
	onEach(t, func(t *testing.T, b backend) {
		f := b.setup(t, options{endpoints: endpoints(t)})
		ctx := context.Background()
		post := func(path, body string, h map[string]string) *http.Request {
			req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
			for k, v := range h {
				req.Header.Set(k, v)
			}
			return req
		}
		accepted := func(what string, req *http.Request, duplicate bool) answer {
			t.Helper()
			code, a, _ := f.do(t, req)
			if code != http.StatusOK || a.Duplicate != duplicate || a.EventID == "" {
				t.Fatalf("%s: answer = %d %+v, want duplicate=%v", what, code, a, duplicate)
			}
			return a
		}

		a := accepted("stripe", post("/webhooks/payments", stripeBody, map[string]string{"Stripe-Signature": signed.Stripe}), false)
		ev, err := f.store.GetEvent(ctx, a.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Source != "payments" || ev.Type != "invoice.paid" || ev.Subject != "in_1Q2w3E" || ev.Scheme != "stripe" ||
			ev.DedupeKey != "event-id:evt_1Q2w3E4r5T6y7U8i" || !bytes.Equal(ev.Body, []byte(stripeBody)) {
			t.Errorf("stored = source %q type %q subject %q scheme %q key %q", ev.Source, ev.Type, ev.Subject, ev.Scheme, ev.DedupeKey)
		}
		again := accepted("stripe retry", post("/webhooks/payments", stripeBody, map[string]string{"Stripe-Signature": signed.StripeLater}), true)
		if again.EventID != a.EventID {
			t.Errorf("the retry names %s, the event is %s", again.EventID, a.EventID)
		}

		gh := map[string]string{"X-Hub-Signature-256": signed.GitHub, "X-GitHub-Event": "push", "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
		first := accepted("github", post("/webhooks/code", githubBody, gh), false)
		gh["X-GitHub-Delivery"] = "9a1c2b3d-cc78-11e3-81ab-4c9367dc0958"
		if r := accepted("github redelivery", post("/webhooks/code", githubBody, gh), true); r.EventID != first.EventID {
			t.Errorf("the redelivery names %s, the event is %s", r.EventID, first.EventID)
		}
		accepted("the same delivery to another source", post("/webhooks/code-mirror", githubBody, gh), false)

		sent := accepted("sent", f.signed(signature.V1, readFixture(t, "f1.json")), false)
		if ev, _ := f.store.GetEvent(ctx, sent.EventID); ev == nil || ev.Source != "sent" {
			t.Errorf("Sent's event: %+v", ev)
		}

		changed := strings.Replace(stripeBody, "invoice.paid", "invoice.paiD", 1)
		code, rj, _ := f.do(t, post("/webhooks/payments", changed, map[string]string{"Stripe-Signature": signed.Stripe}))
		if code != http.StatusUnauthorized || rj.Reason != "no_match" {
			t.Fatalf("one byte changed: %d %+v", code, rj)
		}

		// Handshakes store nothing.
		challenge := `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV","type":"url_verification"}`
		ts := "1761905442"
		sig := "v0=" + hmacHex("slack-signing-secret", "v0:"+ts+":"+challenge)
		rec := httptest.NewRecorder()
		f.rcv.ServeHTTP(rec, post("/webhooks/chat", challenge, map[string]string{"X-Slack-Signature": sig, "X-Slack-Request-Timestamp": ts}))
		if rec.Code != http.StatusOK || rec.Body.String() != `{"challenge":"3eZbrw1aBm2rZgRNFdxV"}` {
			t.Errorf("slack url_verification: %d %s", rec.Code, rec.Body)
		}
		rec = httptest.NewRecorder()
		f.rcv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "1158201444" {
			t.Errorf("meta subscription: %d %s", rec.Code, rec.Body)
		}

		// Counted by source: each configured source's name, Sent's, nothing else.
		for _, c := range []struct {
			vec           *prometheus.CounterVec
			source, label string
		}{
			{f.metrics.Requests, "payments", "accepted"}, {f.metrics.Requests, "payments", "duplicate"},
			{f.metrics.Requests, "payments", "rejected"}, {f.metrics.Requests, "code", "accepted"},
			{f.metrics.Requests, "code", "duplicate"}, {f.metrics.Requests, "code-mirror", "accepted"},
			{f.metrics.Requests, "sent", "accepted"}, {f.metrics.Requests, "chat", "handshake"},
			{f.metrics.Requests, "whatsapp", "handshake"}, {f.metrics.Rejections, "payments", "no_match"},
		} {
			if n := testutil.ToFloat64(c.vec.WithLabelValues(c.source, c.label)); n != 1 {
				t.Errorf("source %q, %s: counted %v, want 1", c.source, c.label, n)
			}
		}
		if n := testutil.ToFloat64(f.metrics.Rejections.WithLabelValues("sent", "no_match")); n != 0 {
			t.Errorf("Sent's endpoint counted %v rejections, want 0: payments' was counted as Sent's", n)
		}

		f.rcv.Close() // drains the rejection queue
		if st, _ := f.store.Stats(ctx); st.Events != 4 || st.Rejections != 1 {
			t.Fatalf("stats = %+v, want 4 events and 1 rejection", st)
		}
		rs, err := f.store.ListRejections(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.store.GetRejection(ctx, rs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Source != "payments" || r.Reason != "no_match" || !strings.Contains(r.Diagnosis, signature.CauseNoSecretMatched) {
			t.Errorf("kept rejection = source %q reason %q diagnosis %q", r.Source, r.Reason, r.Diagnosis)
		}
	})
}

func hmacHex(key, content string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(content))
	return hex.EncodeToString(h.Sum(nil))
}
