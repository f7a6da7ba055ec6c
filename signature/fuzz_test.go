package signature

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds Verify arbitrary headers and bodies. It must never panic,
// must fail only with a *VerifyError, and a signature made by Sign over the
// fuzzed body must verify (and stop verifying when the body changes).
func FuzzVerify(f *testing.F) {
	fx := setup(f)
	f.Add(fx.vec.V1.Signature, fx.vec.V1.ID, fx.vec.V1.Timestamp, fx.body)
	f.Add(fx.vec.Legacy.Signature, "", "", fx.body)
	f.Add("v1,"+strings.Repeat("A", 43)+" v1,!!! sha256=00", fx.vec.V1.ID, "1761905442", []byte("{}"))
	f.Add("sha256="+strings.Repeat("F", 64), "", "", []byte(nil))
	f.Add("v1,", "x", "99999999999999999999", []byte("\x00\xff"))
	f.Add("  \t ", "", "-1", []byte(" "))
	f.Add(strings.Repeat("v1,a ", 40), "id", "0", []byte("x"))

	v := fx.verifier(f, nil)
	f.Fuzz(func(t *testing.T, sig, id, ts string, body []byte) {
		h := http.Header{HeaderSignature: {sig}}
		if id != "" {
			h[HeaderID] = []string{id}
		}
		if ts != "" {
			h[HeaderTimestamp] = []string{ts}
		}
		res, err := v.Verify(h, body)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) || ReasonCode(err) == "invalid" {
				t.Fatalf("Verify error %#v is not a *VerifyError with a known reason", err)
			}
			if res.SecretIndex != -1 {
				t.Errorf("SecretIndex = %d on failure", res.SecretIndex)
			}
			assertNoSecrets(t, err.Error(), fx)
		} else if res.SecretIndex < 0 || res.SecretIndex > 1 {
			t.Errorf("SecretIndex = %d", res.SecretIndex)
		}

		webhookID := id
		if webhookID == "" || len(webhookID) > maxIDLen {
			webhookID = fx.vec.V1.ID
		}
		for i, sec := range []Secret{fx.v1Secret, fx.legacySecret} {
			scheme := []Scheme{V1, Legacy}[i]
			signed := Sign(scheme, sec, body, SignOptions{WebhookID: webhookID, Timestamp: fixtureNow})
			res, err := v.Verify(signed, body)
			if err != nil || res.Scheme != scheme || res.SecretIndex != i {
				t.Fatalf("Verify(Sign(%s)) = %+v, %v", scheme, res, err)
			}
			changed := append(bytes.Clone(body), '!')
			if _, err := v.Verify(signed, changed); !errors.Is(err, ErrNoMatch) {
				t.Fatalf("Verify(Sign(%s)) over a changed body = %v, want ErrNoMatch", scheme, err)
			}
		}
	})
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{8}$`)

// FuzzParseSecret feeds ParseSecret arbitrary text. It must never panic,
// never echo the secret, and a secret it accepts must sign and verify.
func FuzzParseSecret(f *testing.F) {
	fx := setup(f)
	for _, s := range []string{
		fx.vec.V1.Secret, fx.vec.Legacy.Secret, "", " ", "whsec_", "whsec_=", "whsec_a", "whsec_-_8",
		"whsec_+/8=", "whsec_AAAA====", "WHSEC_abc", "whsec_\xff", "abc\x00def", strings.Repeat("x", 1025),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, err := ParseSecret(s)
		text := strings.TrimSpace(s)
		// No message of ours has 16 characters without a space, so a longer
		// spaceless secret showing up in one is a leak.
		leaks := func(out string) bool {
			return len(text) >= 16 && !strings.ContainsAny(text, " ") && strings.Contains(out, text)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidSecret) {
				t.Fatalf("error %v does not wrap ErrInvalidSecret", err)
			}
			if leaks(err.Error()) {
				t.Fatalf("error %q reveals the secret", err)
			}
			if !sec.isZero() {
				t.Fatal("non-zero Secret returned with an error")
			}
			return
		}
		if !fingerprintRE.MatchString(sec.Fingerprint()) {
			t.Errorf("Fingerprint = %q", sec.Fingerprint())
		}
		if leaks(sec.String()) {
			t.Errorf("String %q reveals the secret", sec.String())
		}
		if len(sec.V1Key()) == 0 || string(sec.LegacyKey()) != text {
			t.Fatalf("keys: V1Key %d bytes, LegacyKey %q", len(sec.V1Key()), sec.LegacyKey())
		}
		if !strings.Contains(s, ",") {
			list, err := ParseSecrets(s)
			if err != nil || len(list) != 1 || list[0].Fingerprint() != sec.Fingerprint() {
				t.Errorf("ParseSecrets(%q) = %v, %v; ParseSecret agreed", s, list, err)
			}
		}
		v, err := NewVerifier(Config{Secrets: []Secret{sec}, NowFunc: func() time.Time { return fixtureNow }})
		if err != nil {
			t.Fatal(err)
		}
		for _, scheme := range []Scheme{V1, Legacy} {
			h := Sign(scheme, sec, fx.body, SignOptions{WebhookID: "wh", Timestamp: fixtureNow})
			if _, err := v.Verify(h, fx.body); err != nil {
				t.Fatalf("Verify(Sign(%s)) = %v", scheme, err)
			}
		}
	})
}

// FuzzDiagnose feeds Diagnose arbitrary headers and bodies. It must never
// panic, agree with Verify, explain every failure, and never reveal a secret.
func FuzzDiagnose(f *testing.F) {
	fx := setup(f)
	f.Add(fx.vec.V1.Signature, fx.vec.V1.Timestamp, fx.body)
	f.Add(fx.vec.Legacy.Signature, "", fx.body)
	f.Add(fx.vec.V1.Signature, "1761905000", append(bytes.Clone(fx.body), '\n'))
	f.Add(strings.ToUpper(fx.vec.Legacy.Signature), "", []byte(`{"a":"\u00e9\/<>&","b":[1,{"c":null}]}`))
	f.Add("v1,abc", "x", []byte(`{"a":`))
	f.Add("", "", []byte(nil))
	f.Add(strings.TrimPrefix(fx.vec.V1.Signature, "v1,"), "1761905442000", []byte(`"\ud800\udc00\ud800"`))

	secrets := []Secret{fx.v1Secret, fx.legacySecret}
	v := fx.verifier(f, nil)
	causeRE := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		h := http.Header{HeaderID: {fx.vec.V1.ID}}
		if sig != "" {
			h[HeaderSignature] = []string{sig}
		}
		if ts != "" {
			h[HeaderTimestamp] = []string{ts}
		}
		d := Diagnose(h, body, secrets, fixtureNow, 0)
		_, err := v.Verify(h, body)
		if d.OK != (err == nil) {
			t.Fatalf("Diagnose OK = %v, Verify: %v", d.OK, err)
		}
		if !d.OK && len(d.Findings) == 0 {
			t.Fatalf("failure without findings (Verify: %v)", err)
		}
		for _, fd := range d.Findings {
			if !causeRE.MatchString(fd.Cause) || fd.Message == "" {
				t.Errorf("bad finding %+v", fd)
			}
		}
		assertNoSecrets(t, d.String(), fx)
	})
}
