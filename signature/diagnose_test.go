package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDiagnose builds each faulty delivery from f1.json and checks the first
// finding names its cause.
func TestDiagnose(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	key := fx.v1Secret.V1Key()
	text := fx.vec.V1.Secret
	other := mustParseSecret(t, "whsec_b3RoZXItZW52aXJvbm1lbnQta2V5LTk4NzY1NDMyMQ==")

	indent := func(b []byte, in string) []byte {
		var buf bytes.Buffer
		if err := json.Indent(&buf, b, "", in); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	pretty := indent(fx.body, "  ")
	var m map[string]any
	if err := json.Unmarshal(fx.body, &m); err != nil {
		t.Fatal(err)
	}
	sorted, _ := json.Marshal(m) // a Go map: keys sorted
	python := []byte(strings.NewReplacer(`":"`, `": "`, `","`, `", "`, `":{"`, `": {"`).Replace(string(fx.body)))
	// f1 with a text field, as sent (raw UTF-8) and as re-encoded by Python
	// (non-ASCII escaped) or Go (<, >, & escaped); escapes written by hand.
	withText := func(s string) []byte {
		return bytes.Replace(fx.body, []byte(`"channel":"sms"`), []byte(`"channel":"sms","text":"`+s+`"`), 1)
	}
	rawText := withText("Café <b>&</b> ✓ 😀")
	pyText := withText(`Caf\u00e9 <b>&</b> \u2713 \ud83d\ude00`)
	goText := withText(`Café \u003cb\u003e\u0026\u003c/b\u003e ✓ 😀`)

	v1 := func(k []byte, body []byte) http.Header { return fx.signV1(k, fixtureUnix, body) }
	withSig := func(h http.Header, sig string) http.Header { h.Set(HeaderSignature, sig); return h }
	hmacSum := func(k []byte, parts ...string) []byte {
		mac := hmac.New(sha256.New, k)
		for _, p := range parts {
			mac.Write([]byte(p))
		}
		return mac.Sum(nil)
	}
	legacyHex := strings.TrimPrefix(fx.vec.Legacy.Signature, "sha256=")

	tests := []struct {
		name      string
		header    http.Header
		body      []byte
		secrets   []Secret // defaults to the v1 secret
		wantOK    bool
		wantCause string // of the first finding; "" for none
		wantIn    string // in the first finding's message
	}{
		{name: "OK", header: fx.v1Header(), wantOK: true},
		{name: "LegacyOK", header: fx.legacyHeader(), secrets: []Secret{fx.legacySecret}, wantOK: true},

		// Body re-serialised.
		{name: "PrettyPrinted2Spaces", header: fx.v1Header(), body: pretty, wantCause: CauseBodyReformatted, wantIn: "signed compact JSON"},
		{name: "PrettyPrintedTabs", header: fx.v1Header(), body: indent(fx.body, "\t"), wantCause: CauseBodyReformatted},
		{name: "SignedPrettyArrivedCompact", header: v1(key, pretty), wantCause: CauseBodyReformatted, wantIn: "2 spaces"},
		{name: "SignedTabsArrivedCompact", header: v1(key, indent(fx.body, "\t")), wantCause: CauseBodyReformatted, wantIn: "tabs"},
		{name: "SignedPythonArrivedCompact", header: v1(key, python), wantCause: CauseBodyReformatted, wantIn: "json.dumps"},
		{name: "KeysSorted", header: fx.v1Header(), body: sorted, wantCause: CauseBodyKeysReordered, wantIn: "Sent's order"},
		{name: "KeysSortedPretty", header: fx.v1Header(), body: indent(sorted, "  "), wantCause: CauseBodyKeysReordered},
		{name: "KeysSortedWrongSecret", header: v1(other.V1Key(), fx.body), body: sorted, wantCause: CauseBodyKeysReordered, wantIn: "sorted order"},
		{name: "NonASCIIEscaped", header: v1(key, rawText), body: pyText, wantCause: CauseBodyEscaping, wantIn: "plain characters"},
		{name: "HTMLEscaped", header: v1(key, rawText), body: goText, wantCause: CauseBodyEscaping},
		{name: "NonASCIIUnescaped", header: v1(key, pyText), body: rawText, wantCause: CauseBodyEscaping, wantIn: `\uXXXX`},
		{name: "HTMLUnescaped", header: v1(key, goText), body: rawText, wantCause: CauseBodyEscaping, wantIn: `\u003c`},

		// Newlines, truncation, other body damage.
		{name: "TrailingNewlineAdded", header: fx.v1Header(), body: append(bytes.Clone(fx.body), '\n'), wantCause: CauseTrailingNewline, wantIn: "added"},
		{name: "TrailingCRLFAdded", header: fx.v1Header(), body: append(bytes.Clone(fx.body), "\r\n"...), wantCause: CauseTrailingNewline, wantIn: "CRLF"},
		{name: "TrailingNewlineRemoved", header: v1(key, append(bytes.Clone(fx.body), '\n')), wantCause: CauseTrailingNewline, wantIn: "stripped"},
		{name: "LineEndingsCRLF", header: v1(key, pretty), body: bytes.ReplaceAll(pretty, []byte("\n"), []byte("\r\n")), wantCause: CauseLineEndings},
		{name: "Truncated", header: fx.v1Header(), body: fx.body[:200], wantCause: CauseBodyTruncated, wantIn: "ends abruptly after 200 bytes"},
		{
			name:      "TruncatedContentLength",
			header:    func() http.Header { h := fx.v1Header(); h.Set("Content-Length", "364"); return h }(),
			body:      fx.body[:300],
			wantCause: CauseBodyTruncated, wantIn: "after 300 bytes (Content-Length says 364)",
		},
		{name: "TrailingData", header: fx.v1Header(), body: append(bytes.Clone(fx.body), `{"x":1}`...), wantCause: CauseTrailingData, wantIn: "7 bytes"},
		{name: "Base64Body", header: fx.v1Header(), body: []byte(base64.StdEncoding.EncodeToString(fx.body)), wantCause: CauseBodyBase64},
		{name: "NotJSON", header: fx.v1Header(), body: []byte("field=message&sub_type=message.delivered"), wantCause: CauseBodyNotJSON},
		{name: "EmptyBody", header: fx.v1Header(), body: []byte{}, wantCause: CauseEmptyBody},

		// Keys.
		{name: "SecretUsedRaw", header: v1([]byte(text), fx.body), wantCause: CauseSecretNotDecoded, wantIn: "raw text"},
		{name: "SecretUsedUndecoded", header: v1([]byte(strings.TrimPrefix(text, "whsec_")), fx.body), wantCause: CauseSecretNotDecoded, wantIn: "without base64-decoding"},
		{name: "LegacySignedWithDecodedKey", header: withSig(http.Header{}, SignLegacy(key, fx.body)), wantCause: CauseSecretDecoded},
		{name: "LegacyPrefixStripped", header: withSig(http.Header{}, SignLegacy([]byte(strings.TrimPrefix(text, "whsec_")), fx.body)), wantCause: CauseSecretPrefixStripped},
		{
			name: "OtherEnvironment", header: v1(other.V1Key(), fx.body),
			wantCause: CauseNoSecretMatched, wantIn: "no configured secret matched — is the secret from another environment (test/live)?",
		},
		{
			name: "OtherConfiguredSecret", header: v1(other.V1Key(), fx.body), secrets: []Secret{fx.v1Secret, other},
			wantOK: true, wantCause: CauseOtherSecret, wantIn: "matches secrets[1] (fp " + other.Fingerprint() + ")",
		},

		// Scheme and format.
		{
			name: "LegacyWithV1Setup",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, SignLegacy([]byte(text), fx.body))
				return h
			}(),
			wantOK: true, wantCause: CauseSchemeMismatch, wantIn: "legacy scheme",
		},
		{
			name:      "LegacyFormatOverV1Content",
			header:    withSig(fx.v1Header(), "sha256="+hex.EncodeToString(hmacSum(key, fx.vec.V1.ID, ".", fx.vec.V1.Timestamp, ".", string(fx.body)))),
			wantCause: CauseSchemeMismatch, wantIn: "legacy format",
		},
		{
			name:      "V1OverBodyOnly",
			header:    withSig(fx.v1Header(), "v1,"+base64.StdEncoding.EncodeToString(hmacSum(key, string(fx.body)))),
			wantCause: CauseSchemeMismatch, wantIn: "body alone",
		},
		{name: "HexUpperCase", header: withSig(http.Header{}, "sha256="+strings.ToUpper(legacyHex)), secrets: []Secret{fx.legacySecret}, wantCause: CauseHexUppercase},
		{name: "BareHex", header: withSig(http.Header{}, legacyHex), secrets: []Secret{fx.legacySecret}, wantCause: CauseMissingPrefix, wantIn: "sha256="},
		{name: "BareBase64", header: withSig(fx.v1Header(), strings.TrimPrefix(fx.vec.V1.Signature, "v1,")), wantCause: CauseMissingPrefix, wantIn: "v1,"},
		{name: "UpperCasePrefix", header: withSig(http.Header{}, "SHA256="+legacyHex), secrets: []Secret{fx.legacySecret}, wantCause: CauseMissingPrefix},
		{name: "V1AsHex", header: withSig(fx.v1Header(), "v1,"+hex.EncodeToString(hmacSum(key, fx.vec.V1.ID, ".", fx.vec.V1.Timestamp, ".", string(fx.body)))), wantCause: CauseWrongEncoding},

		// Clock.
		{name: "Stale", header: fx.signV1(key, fixtureUnix-412, fx.body), wantCause: CauseStaleTimestamp, wantIn: "412s old, tolerance 300s"},
		{name: "Future", header: fx.signV1(key, fixtureUnix+412, fx.body), wantCause: CauseFutureTimestamp, wantIn: "412s in the future, tolerance 300s: the sender's clock is ahead of this host's (or this host's is behind) by at least 112s"},
		{name: "StaleAndPretty", header: fx.signV1(key, fixtureUnix-412, fx.body), body: pretty, wantCause: CauseBodyReformatted},
		{
			name:      "Milliseconds",
			header:    withSig(withTS(fx.v1Header(), "1761905442000"), SignV1(key, fx.vec.V1.ID, fixtureUnix*1000, fx.body)),
			wantCause: CauseTimestampMillis,
		},
		{
			name:      "ISOTimestamp",
			header:    withSig(withTS(fx.v1Header(), "2025-10-31T10:10:42Z"), "v1,"+base64.StdEncoding.EncodeToString(hmacSum(key, fx.vec.V1.ID, ".2025-10-31T10:10:42Z.", string(fx.body)))),
			wantCause: CauseMalformedTimestamp, wantIn: "ISO-8601",
		},

		// Headers.
		{name: "MissingSignature", header: func() http.Header { h := fx.v1Header(); h.Del(HeaderSignature); return h }(), wantCause: CauseMissingSignature},
		{
			name: "RenamedSignatureHeader",
			header: func() http.Header {
				h := fx.v1Header()
				h.Del(HeaderSignature)
				h.Set("Webhook-Signature", fx.vec.V1.Signature)
				return h
			}(),
			wantCause: CauseMissingSignature, wantIn: "Webhook-Signature is present",
		},
		{name: "MissingTimestamp", header: func() http.Header { h := fx.v1Header(); h.Del(HeaderTimestamp); return h }(), wantCause: CauseMissingTimestamp},
		{name: "MissingID", header: func() http.Header { h := fx.v1Header(); h.Del(HeaderID); return h }(), wantCause: CauseMissingID},
		{
			name: "HeaderKeysNotCanonical",
			header: http.Header{
				"x-webhook-signature": {fx.vec.V1.Signature},
				HeaderID:              {fx.vec.V1.ID},
				HeaderTimestamp:       {fx.vec.V1.Timestamp},
			},
			wantCause: CauseHeaderCase,
		},
		{name: "UnknownScheme", header: withSig(http.Header{}, "v2,abc"), wantCause: CauseUnknownScheme},
		{name: "MalformedV1", header: withSig(fx.v1Header(), "v1,abc"), wantCause: CauseMalformedSignature},
		{name: "NoSecrets", header: fx.v1Header(), secrets: []Secret{}, wantCause: CauseNoSecrets},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, secrets := tt.body, tt.secrets
			if body == nil {
				body = fx.body
			}
			if secrets == nil {
				secrets = []Secret{fx.v1Secret}
			}
			d := Diagnose(tt.header, body, secrets, fixtureNow, 0)
			if d.OK != tt.wantOK {
				t.Errorf("OK = %v, want %v", d.OK, tt.wantOK)
			}
			if tt.wantCause == "" {
				if len(d.Findings) != 0 {
					t.Errorf("unexpected findings:\n%s", d)
				}
				return
			}
			if len(d.Findings) == 0 || d.Findings[0].Cause != tt.wantCause {
				t.Fatalf("first finding is not %s:\n%s", tt.wantCause, d)
			}
			if !strings.Contains(d.Findings[0].Message, tt.wantIn) {
				t.Errorf("first message lacks %q:\n%s", tt.wantIn, d)
			}

			// Diagnose agrees with Verify, and neither reveals a secret nor the
			// signature that would have been right.
			var verr error
			if len(secrets) > 0 {
				v, err := NewVerifier(Config{Secrets: secrets, NowFunc: func() time.Time { return fixtureNow }})
				if err != nil {
					t.Fatal(err)
				}
				_, verr = v.Verify(tt.header, body)
				if d.OK != (verr == nil) {
					t.Errorf("Diagnose OK = %v but Verify: %v", d.OK, verr)
				}
			}
			if testing.Verbose() {
				t.Logf("%s\nVerify: %v", d, verr)
			}
			for _, out := range []string{d.String(), errString(verr)} {
				assertNoSecrets(t, out, fx)
				assertNoExpectedSignature(t, out, fx, tt.header, body)
			}
		})
	}
}

func withTS(h http.Header, ts string) http.Header { h.Set(HeaderTimestamp, ts); return h }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertNoExpectedSignature fails if s contains the signature the delivery
// should have carried, in any encoding.
func assertNoExpectedSignature(t testing.TB, s string, fx *fixture, h http.Header, body []byte) {
	t.Helper()
	unix, _ := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	for _, sig := range []string{
		SignV1(fx.v1Secret.V1Key(), h.Get(HeaderID), unix, body),
		SignLegacy(fx.legacySecret.LegacyKey(), body),
		SignLegacy(fx.v1Secret.LegacyKey(), body),
	} {
		_, digest, _ := strings.Cut(sig, ",")
		if strings.HasPrefix(sig, "sha256=") {
			digest = strings.TrimPrefix(sig, "sha256=")
		}
		if strings.Contains(s, digest[:16]) || strings.Contains(strings.ToLower(s), strings.ToLower(digest[:16])) {
			t.Errorf("output reveals an expected signature: %q", s)
		}
	}
}

func TestDiagnoseIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes a few hundred MiB")
	}
	t.Parallel()
	fx := setup(t)
	secrets := make([]Secret, 20)
	for i := range secrets {
		secrets[i] = mustParseSecret(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(i)+"-key-material")))
	}
	// A 4 MiB JSON body: too big to re-serialise; the budget stops the rest.
	body := append([]byte(`{"field":"message","payload":"`), bytes.Repeat([]byte("a"), 4<<20)...)
	body = append(body, `"}`...)
	d := Diagnose(fx.v1Header(), body, secrets, fixtureNow, 0)
	if d.OK || len(d.Findings) == 0 {
		t.Fatalf("unexpected diagnosis:\n%s", d)
	}
	causes := make([]string, len(d.Findings))
	for i, f := range d.Findings {
		causes[i] = f.Cause
	}
	if got := strings.Join(causes, ","); got != CauseIncomplete+","+CauseNoSecretMatched {
		t.Errorf("causes = %s", got)
	}
}

func TestDiagnosisString(t *testing.T) {
	t.Parallel()
	d := Diagnosis{Scheme: V1, Findings: []Finding{{"a_b", "one"}, {"c", "two"}}}
	want := "signature does not verify (scheme v1)\n1. a_b: one\n2. c: two"
	if got := d.String(); got != want {
		t.Errorf("String =\n%s\nwant\n%s", got, want)
	}
	if got := (Diagnosis{OK: true, Scheme: Legacy}).String(); got != "signature verifies (scheme legacy)" {
		t.Errorf("String = %q", got)
	}
	if got := (Diagnosis{}).String(); got != "signature does not verify (scheme none)" {
		t.Errorf("String = %q", got)
	}
}

func TestVariantsSortedByCost(t *testing.T) {
	t.Parallel()
	for i := 1; i < len(variants); i++ {
		if variants[i].cost < variants[i-1].cost {
			t.Fatalf("variants[%d] costs %d after a variant costing %d; search stops early on this order", i, variants[i].cost, variants[i-1].cost)
		}
	}
}
