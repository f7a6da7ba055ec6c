package signature_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/hooklatch/hooklatch/signature"
)

// The examples run at a fixed time, the timestamp of the protocol's test
// vector (2025-10-31T10:10:42Z).
var now = time.Unix(1761905442, 0)

const body = `{"field":"message","sub_type":"message.delivered","timestamp":"2025-10-31T10:10:42Z","payload":{"message_id":"8ba7b830","message_status":"DELIVERED"}}`

func ExampleSign() {
	secret, err := signature.ParseSecret("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		panic(err)
	}
	h := signature.Sign(signature.V1, secret, []byte(body), signature.SignOptions{
		WebhookID: "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
		Timestamp: now,
	})
	for _, name := range []string{signature.HeaderID, signature.HeaderTimestamp, signature.HeaderSignature} {
		fmt.Printf("%s: %s\n", name, h.Get(name))
	}

	legacy, _ := signature.ParseSecret("fixture-legacy-secret")
	h = signature.Sign(signature.Legacy, legacy, []byte(body), signature.SignOptions{})
	fmt.Printf("%s: %s\n", signature.HeaderSignature, h.Get(signature.HeaderSignature))
	// Output:
	// X-Webhook-Id: d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8
	// X-Webhook-Timestamp: 1761905442
	// X-Webhook-Signature: v1,az5J25eESzCakS/JhQkSAYoaGlmWn0qafrjhxs1pjvE=
	// X-Webhook-Signature: sha256=a6dfd6c400866ec590ff57b5cbde0355fa6235019ef7e75945daa718cd49c300
}

func ExampleParseSecret() {
	secret, err := signature.ParseSecret("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		panic(err)
	}
	// However it is printed, a Secret shows only a fingerprint.
	fmt.Println(secret)
	fmt.Printf("%+v\n", struct{ Secret signature.Secret }{secret})

	_, err = signature.ParseSecret("whsec_not base64!")
	fmt.Println(err)
	// Output:
	// whsec_…(fp 8b894291)
	// {Secret:whsec_…(fp 8b894291)}
	// signature: invalid secret: whsec_ secret is not valid base64 (11 characters after the prefix)
}

func ExampleVerifier_Verify() {
	// The new secret first, the old one second, while a rotation settles.
	secrets, err := signature.ParseSecrets("whsec_bmV3LXNlY3JldC1rZXk=, whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	if err != nil {
		panic(err)
	}
	v, err := signature.NewVerifier(signature.Config{
		Secrets: secrets,
		NowFunc: func() time.Time { return now.Add(20 * time.Second) },
	})
	if err != nil {
		panic(err)
	}

	// What Sent would send, signed with the old secret.
	h := signature.Sign(signature.V1, secrets[1], []byte(body), signature.SignOptions{
		WebhookID: "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8",
		Timestamp: now,
	})

	res, err := v.Verify(h, []byte(body))
	fmt.Println(res.Scheme, res.SecretIndex, res.WebhookID, res.Timestamp.UTC().Format(time.RFC3339), err)

	// One byte more and it fails; ReasonCode gives a code for logs and metrics.
	_, err = v.Verify(h, []byte(body+"\n"))
	fmt.Println(signature.ReasonCode(err), "|", err)

	// A replay ten minutes later.
	later, _ := signature.NewVerifier(signature.Config{Secrets: secrets, NowFunc: func() time.Time { return now.Add(10 * time.Minute) }})
	_, err = later.Verify(h, []byte(body))
	fmt.Println(signature.ReasonCode(err), "|", err)
	// Output:
	// v1 1 d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8 2025-10-31T10:10:42Z <nil>
	// no_match | signature: no match: 1 v1 signature checked against 2 secrets
	// stale_timestamp | signature: stale timestamp: 600s old, tolerance 300s
}

// A receiver verifies the raw body before anything parses it, logs the
// details and tells the sender only 401.
func ExampleVerifier_Verify_handler() {
	secret, _ := signature.ParseSecret("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	v, _ := signature.NewVerifier(signature.Config{
		Secrets: []signature.Secret{secret},
		Schemes: []signature.Scheme{signature.V1},
		NowFunc: func() time.Time { return now },
	})
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		res, err := v.Verify(r.Header, raw)
		if err != nil {
			logger.Warn("webhook rejected", "reason", signature.ReasonCode(err), "err", err)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			SubType string `json:"sub_type"`
		}
		_ = json.Unmarshal(raw, &event) // only now is it safe to parse
		logger.Info("webhook accepted", "event", event.SubType, "secret_index", res.SecretIndex)
		w.WriteHeader(http.StatusNoContent)
	})

	send := func(b string, h http.Header) int {
		r := httptest.NewRequest(http.MethodPost, "/webhooks/sent", strings.NewReader(b))
		for k, vs := range h {
			r.Header[k] = vs
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		return w.Code
	}
	h := signature.Sign(signature.V1, secret, []byte(body), signature.SignOptions{WebhookID: "wh_1", Timestamp: now})
	fmt.Println(send(body, h))
	fmt.Println(send(body, http.Header{signature.HeaderSignature: {"sha256=00"}}))
	// Output:
	// level=INFO msg="webhook accepted" event=message.delivered secret_index=0
	// 204
	// level=WARN msg="webhook rejected" reason=scheme_not_allowed err="signature: scheme not allowed: legacy signature, only v1 is accepted"
	// 401
}

// Diagnose, off the request path, says why a delivery failed: here a proxy
// pretty-printed the JSON and the delivery was held for seven minutes.
func ExampleDiagnose() {
	secret, _ := signature.ParseSecret("whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")
	h := signature.Sign(signature.V1, secret, []byte(body), signature.SignOptions{WebhookID: "wh_1", Timestamp: now})

	var pretty bytes.Buffer
	_ = json.Indent(&pretty, []byte(body), "", "  ")

	d := signature.Diagnose(h, pretty.Bytes(), []signature.Secret{secret}, now.Add(7*time.Minute), 0)
	fmt.Println(d)
	// Output:
	// signature does not verify (scheme v1)
	// 1. body_reformatted: the body was re-serialised: the sender signed compact JSON, it arrived re-formatted; verify the raw bytes before any JSON parsing [the signature matches secrets[0] (fp 8b894291)]
	// 2. stale_timestamp: X-Webhook-Timestamp is 420s old, tolerance 300s: the delivery was held or replayed (Sent re-signs retries with a fresh timestamp), or this host's clock is ahead of the sender's by at least 120s — check NTP
}
