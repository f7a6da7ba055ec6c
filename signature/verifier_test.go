package signature

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	key := fx.v1Secret.V1Key()
	other, err := ParseSecret("whsec_" + "b3RoZXItZW52aXJvbm1lbnQta2V5LTk4NzY1NDMyMQ==")
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, fx.body, "", "  "); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		header    func() http.Header
		body      []byte // defaults to f1.json
		config    func(*Config)
		want      error // nil: verifies
		wantIndex int
	}{
		{name: "V1Vector", header: fx.v1Header},
		{name: "LegacyVector", header: fx.legacyHeader, wantIndex: 1},
		{
			name:   "BodyPlusOneSpace",
			header: fx.v1Header,
			body:   append(bytes.Clone(fx.body), ' '),
			want:   ErrNoMatch,
		},
		{
			name:   "LegacyBodyPlusOneSpace",
			header: fx.legacyHeader,
			body:   append([]byte(" "), fx.body...),
			want:   ErrNoMatch,
		},
		{
			name: "DifferentWebhookID",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderID, "e4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8")
				return h
			},
			want: ErrNoMatch,
		},
		{
			name:   "Stale360s",
			header: func() http.Header { return fx.signV1(key, fixtureUnix-360, fx.body) },
			want:   ErrStaleTimestamp,
		},
		{
			name:   "Future360s",
			header: func() http.Header { return fx.signV1(key, fixtureUnix+360, fx.body) },
			want:   ErrFutureTimestamp,
		},
		{
			name:   "Edge300sOld",
			header: func() http.Header { return fx.signV1(key, fixtureUnix-300, fx.body) },
		},
		{
			name:   "Edge300sAhead",
			header: func() http.Header { return fx.signV1(key, fixtureUnix+300, fx.body) },
		},
		{
			name:   "StaleButCheckDisabled",
			header: func() http.Header { return fx.signV1(key, fixtureUnix-86400, fx.body) },
			config: func(c *Config) { c.Tolerance = -1 },
		},
		{
			name:   "StaleWithShortTolerance",
			header: func() http.Header { return fx.signV1(key, fixtureUnix-61, fx.body) },
			config: func(c *Config) { c.Tolerance = time.Minute },
			want:   ErrStaleTimestamp,
		},
		{
			name:   "PrettyPrinted",
			header: fx.v1Header,
			body:   pretty.Bytes(),
			want:   ErrNoMatch,
		},
		{
			name: "NonNumericTimestamp",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderTimestamp, "2025-10-31T10:10:42Z")
				return h
			},
			want: ErrMalformed,
		},
		{
			name: "SignedTimestamp",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderTimestamp, "+1761905442")
				return h
			},
			want: ErrMalformed,
		},
		{
			name: "WithoutV1Prefix",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, strings.TrimPrefix(fx.vec.V1.Signature, "v1,"))
				return h
			},
			want: ErrUnknownScheme,
		},
		{
			name:   "MissingHeader",
			header: func() http.Header { h := fx.v1Header(); h.Del(HeaderSignature); return h },
			want:   ErrMissingSignature,
		},
		{
			name:   "EmptyHeader",
			header: func() http.Header { h := fx.v1Header(); h.Set(HeaderSignature, "  "); return h },
			want:   ErrMissingSignature,
		},
		{
			name:   "MissingTimestamp",
			header: func() http.Header { h := fx.v1Header(); h.Del(HeaderTimestamp); return h },
			want:   ErrMissingTimestamp,
		},
		{
			name:   "MissingWebhookID",
			header: func() http.Header { h := fx.v1Header(); h.Del(HeaderID); return h },
			want:   ErrMalformed,
		},
		{
			name:      "RotationSecondSecretMatches",
			header:    fx.v1Header,
			config:    func(c *Config) { c.Secrets = []Secret{other, fx.v1Secret} },
			wantIndex: 1,
		},
		{
			name:   "WrongSecret",
			header: fx.v1Header,
			config: func(c *Config) { c.Secrets = []Secret{other} },
			want:   ErrNoMatch,
		},
		{
			name: "MultipleSignaturesOneMatches",
			header: func() http.Header {
				h := fx.v1Header()
				bogus := SignV1(other.V1Key(), fx.vec.V1.ID, fixtureUnix, fx.body)
				h.Set(HeaderSignature, "v1a,ignored "+bogus+"  v1,!!notbase64 "+fx.vec.V1.Signature)
				return h
			},
		},
		{
			name: "MultipleSignaturesNoneMatches",
			header: func() http.Header {
				h := fx.v1Header()
				a := SignV1(other.V1Key(), fx.vec.V1.ID, fixtureUnix, fx.body)
				b := SignV1(other.V1Key(), "x", fixtureUnix, fx.body)
				h.Set(HeaderSignature, a+" "+b)
				return h
			},
			want: ErrNoMatch,
		},
		{
			name: "SignaturesAcrossHeaderLines",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, SignV1(other.V1Key(), "x", 1, nil))
				h.Add(HeaderSignature, fx.vec.V1.Signature)
				return h
			},
		},
		{
			name: "OnlySixteenSignaturesConsidered",
			header: func() http.Header {
				h := fx.v1Header()
				wrong := SignV1(other.V1Key(), fx.vec.V1.ID, fixtureUnix, fx.body)
				h.Set(HeaderSignature, strings.Repeat(wrong+" ", 16)+fx.vec.V1.Signature)
				return h
			},
			want: ErrNoMatch,
		},
		{
			name: "UnpaddedURLAlphabet",
			header: func() http.Header {
				h := fx.v1Header()
				sig := strings.TrimRight(fx.vec.V1.Signature, "=")
				sig = strings.NewReplacer("+", "-", "/", "_").Replace(sig)
				h.Set(HeaderSignature, sig)
				return h
			},
		},
		{
			name: "V1NotBase64",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, "v1,"+strings.Repeat("*", 43))
				return h
			},
			want: ErrMalformed,
		},
		{
			name: "V1Truncated",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, fx.vec.V1.Signature[:30])
				return h
			},
			want: ErrMalformed,
		},
		{
			name: "LegacyUpperCaseHex",
			header: func() http.Header {
				h := http.Header{}
				h.Set(HeaderSignature, "sha256="+strings.ToUpper(strings.TrimPrefix(fx.vec.Legacy.Signature, "sha256=")))
				return h
			},
			want: ErrMalformed,
		},
		{
			name:   "LegacyNotHex",
			header: func() http.Header { h := http.Header{}; h.Set(HeaderSignature, "sha256=xyz"); return h },
			want:   ErrMalformed,
		},
		{
			name: "HeaderTooLong",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, strings.Repeat(" ", maxHeaderLen)+fx.vec.V1.Signature)
				return h
			},
			want: ErrMalformed,
		},
		{
			name: "WebhookIDTooLong",
			header: func() http.Header {
				id := strings.Repeat("a", maxIDLen+1)
				h := fx.signV1(key, fixtureUnix, fx.body)
				h.Set(HeaderID, id)
				h.Set(HeaderSignature, SignV1(key, id, fixtureUnix, fx.body))
				return h
			},
			want: ErrMalformed,
		},
		{
			name:   "LegacyNotAllowed",
			header: fx.legacyHeader,
			config: func(c *Config) { c.Schemes = []Scheme{V1} },
			want:   ErrSchemeNotAllowed,
		},
		{
			name:   "V1NotAllowed",
			header: fx.v1Header,
			config: func(c *Config) { c.Schemes = []Scheme{Legacy} },
			want:   ErrSchemeNotAllowed,
		},
		{
			name: "V1PreferredOverLegacy",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, SignV1(other.V1Key(), "x", 1, nil)+" "+fx.vec.Legacy.Signature)
				return h
			},
			want: ErrNoMatch,
		},
		{
			name: "LegacyUsedWhenV1NotAllowed",
			header: func() http.Header {
				h := fx.v1Header()
				h.Set(HeaderSignature, fx.vec.V1.Signature+" "+fx.vec.Legacy.Signature)
				return h
			},
			config:    func(c *Config) { c.Schemes = []Scheme{Legacy} },
			wantIndex: 1,
		},
		{
			name:   "UnprefixedSecretDecoded",
			header: fx.v1Header,
			config: func(c *Config) {
				c.Secrets = []Secret{mustParseSecret(t, strings.TrimPrefix(fx.vec.V1.Secret, "whsec_"))}
			},
		},
		{
			name: "UnprefixedSecretRaw",
			header: func() http.Header {
				return fx.signV1([]byte("c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="), fixtureUnix, fx.body)
			},
			config: func(c *Config) {
				c.Secrets = []Secret{mustParseSecret(t, "c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := tt.body
			if body == nil {
				body = fx.body
			}
			res, err := fx.verifier(t, tt.config).Verify(tt.header(), body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if res.SecretIndex != tt.wantIndex {
					t.Errorf("SecretIndex = %d, want %d", res.SecretIndex, tt.wantIndex)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Detail == "" {
				t.Errorf("error %#v is not a *VerifyError with a detail", err)
			}
			if res.SecretIndex != -1 {
				t.Errorf("SecretIndex = %d on failure, want -1", res.SecretIndex)
			}
		})
	}
}

func mustParseSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

func TestNewVerifier(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"NoSecrets", Config{}, "Secrets is required"},
		{"ZeroSecret", Config{Secrets: []Secret{fx.v1Secret, {}}}, "Secrets[1] is the zero Secret"},
		{"UnknownScheme", Config{Secrets: []Secret{fx.v1Secret}, Schemes: []Scheme{"v2"}}, `unknown scheme "v2"`},
		{"Defaults", Config{Secrets: []Secret{fx.v1Secret}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v.tolerance != DefaultTolerance || !v.allowV1 || !v.allowLegacy || v.now == nil {
					t.Errorf("defaults not applied: %+v", v)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewVerifier error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyErrorMessages(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	v := fx.verifier(t, nil)
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{"Stale", fx.signV1(fx.v1Secret.V1Key(), fixtureUnix-412, fx.body), "signature: stale timestamp: 412s old, tolerance 300s"},
		{"Future", fx.signV1(fx.v1Secret.V1Key(), fixtureUnix+412, fx.body), "signature: future timestamp: 412s ahead, tolerance 300s"},
		{"Missing", http.Header{}, "signature: missing signature: no X-Webhook-Signature header"},
		{"NoMatch", fx.signV1([]byte("k"), fixtureUnix, fx.body), "signature: no match: 1 v1 signature checked against 2 secrets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := v.Verify(tt.header, fx.body)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestReasonCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("other"), "invalid"},
		{ErrNoMatch, "no_match"},
		{&VerifyError{Reason: ErrMissingSignature}, "missing_signature"},
		{&VerifyError{Reason: ErrUnknownScheme}, "unknown_scheme"},
		{&VerifyError{Reason: ErrMalformed}, "malformed"},
		{&VerifyError{Reason: ErrMissingTimestamp}, "missing_timestamp"},
		{&VerifyError{Reason: ErrStaleTimestamp}, "stale_timestamp"},
		{&VerifyError{Reason: ErrFutureTimestamp}, "future_timestamp"},
		{&VerifyError{Reason: ErrNoMatch}, "no_match"},
		{&VerifyError{Reason: ErrSchemeNotAllowed}, "scheme_not_allowed"},
		{&VerifyError{}, "invalid"},
		{ErrInvalidSecret, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := ReasonCode(tt.err); got != tt.want {
				t.Errorf("ReasonCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	v := fx.verifier(t, nil)
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for range 200 {
				h := fx.v1Header()
				if i%2 == 1 {
					h = fx.legacyHeader()
				}
				if _, err = v.Verify(h, fx.body); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	fx := setup(t)
	v := fx.verifier(t, nil)
	h, lh := fx.v1Header(), fx.legacyHeader()
	for name, hdr := range map[string]http.Header{"v1": h, "legacy": lh} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := v.Verify(hdr, fx.body); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 {
			t.Errorf("%s: Verify allocates %.0f times per call, want 0", name, allocs)
		}
	}
}

func benchmarkVerify(b *testing.B, scheme Scheme) {
	fx := setup(b)
	body := bytes.Repeat([]byte("x"), 1024)
	h := Sign(scheme, fx.v1Secret, body, SignOptions{WebhookID: fx.vec.V1.ID, Timestamp: fixtureNow})
	v := fx.verifier(b, nil)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyV1(b *testing.B)     { benchmarkVerify(b, V1) }
func BenchmarkVerifyLegacy(b *testing.B) { benchmarkVerify(b, Legacy) }

// The first 16 well-formed signatures of a scheme are checked, in header
// order; a match past them is not, and the failure says how many were
// ignored and what the bound is. A header of thousands of entries (200
// lines of 4 KiB) is read in one pass and checks no more than 16.
func TestSignatureBound(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	other, err := ParseSecret("whsec_" + "b3RoZXItZW52aXJvbm1lbnQta2V5LTk4NzY1NDMyMQ==")
	if err != nil {
		t.Fatal(err)
	}
	wrong := SignV1(other.V1Key(), fx.vec.V1.ID, fixtureUnix, fx.body)
	wrongLegacy := SignLegacy(other.LegacyKey(), fx.body)
	line := strings.TrimSpace(strings.Repeat(wrong+" ", maxHeaderLen/(len(wrong)+1)))
	tests := []struct {
		name       string
		header     func() http.Header
		wantDetail string // "": verifies
	}{
		{"MatchAt16", func() http.Header {
			h := fx.v1Header()
			h.Set(HeaderSignature, strings.Repeat(wrong+" ", 15)+fx.vec.V1.Signature)
			return h
		}, ""},
		{"MatchAt17", func() http.Header {
			h := fx.v1Header()
			h.Set(HeaderSignature, strings.Repeat(wrong+" ", 16)+fx.vec.V1.Signature)
			return h
		}, "16 v1 signatures checked against 2 secrets; 1 more ignored (at most 16 are checked)"},
		{"MalformedDoNotCount", func() http.Header {
			h := fx.v1Header()
			h.Set(HeaderSignature, strings.Repeat("v1,short ", 100)+strings.Repeat(wrong+" ", 15)+fx.vec.V1.Signature)
			return h
		}, ""},
		{"LegacyMatchAt17", func() http.Header {
			h := http.Header{}
			h.Set(HeaderSignature, strings.Repeat(wrongLegacy+" ", 16)+fx.vec.Legacy.Signature)
			return h
		}, "16 legacy signatures checked against 2 secrets; 1 more ignored (at most 16 are checked)"},
		{"ThousandsOfEntries", func() http.Header {
			h := fx.v1Header()
			h.Del(HeaderSignature)
			for range 200 {
				h.Add(HeaderSignature, line)
			}
			h.Add(HeaderSignature, fx.vec.V1.Signature)
			return h
		}, fmt.Sprintf("16 v1 signatures checked against 2 secrets; %d more ignored (at most 16 are checked)", 200*strings.Count(line, " ")+200+1-16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := fx.verifier(t, nil).Verify(tt.header(), fx.body)
			if tt.wantDetail == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want verified", err)
				}
				return
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrNoMatch) || ve.Detail != tt.wantDetail {
				t.Fatalf("Verify error = %v, want no_match with detail %q", err, tt.wantDetail)
			}
		})
	}
}

// TestStandardHeaderNames: the Standard Webhooks and Svix namings of the v1
// headers verify as Sent's, and their failures name the headers sent.
func TestStandardHeaderNames(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	key := fx.v1Secret.V1Key()
	rename := func(h http.Header, names HeaderNames) http.Header {
		out := http.Header{}
		out.Set(names.Signature, h.Get(HeaderSignature))
		out.Set(names.ID, h.Get(HeaderID))
		out.Set(names.Timestamp, h.Get(HeaderTimestamp))
		return out
	}
	for _, names := range HeaderFamilies[1:] {
		t.Run(names.Signature, func(t *testing.T) {
			t.Parallel()
			v := fx.verifier(t, nil)
			res, err := v.Verify(rename(fx.v1Header(), names), fx.body)
			if err != nil || res.Scheme != V1 || res.WebhookID != fx.vec.V1.ID {
				t.Fatalf("Verify = %+v, %v", res, err)
			}
			stale := rename(fx.signV1(key, fixtureUnix-360, fx.body), names)
			if _, err := v.Verify(stale, fx.body); !errors.Is(err, ErrStaleTimestamp) {
				t.Fatalf("stale: %v", err)
			}
			d := Diagnose(stale, fx.body, []Secret{fx.v1Secret}, time.Unix(fixtureUnix, 0), 0)
			if d.OK || len(d.Findings) == 0 || d.Findings[0].Cause != CauseStaleTimestamp || !strings.Contains(d.Findings[0].Message, names.Timestamp) {
				t.Fatalf("diagnosis of a stale request: %s", d)
			}
		})
	}
}
