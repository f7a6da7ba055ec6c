package signature

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestParseSecret(t *testing.T) {
	t.Parallel()
	const key = "sent-fixture-signing-key-0123456"
	tests := []struct {
		name     string
		in       string
		wantV1   string // V1Key
		wantErr  string
		prefixed bool
	}{
		{name: "Vector", in: "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=", wantV1: key, prefixed: true},
		{name: "Trimmed", in: " whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=\n", wantV1: key, prefixed: true},
		{name: "NoPadding", in: "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY", wantV1: key, prefixed: true},
		{name: "URLAlphabet", in: "whsec_-_8", wantV1: "\xfb\xff", prefixed: true},
		{name: "StdAlphabet", in: "whsec_+/8=", wantV1: "\xfb\xff", prefixed: true},
		{name: "UnprefixedBase64", in: "c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY=", wantV1: key},
		{name: "UnprefixedText", in: "fixture-legacy-secret", wantV1: "fixture-legacy-secret"},
		{name: "InvalidBase64", in: "whsec_not*base64!", wantErr: "whsec_ secret is not valid base64"},
		{name: "InvalidBase64Length", in: "whsec_abcde", wantErr: "not valid base64"},
		{name: "EmptyKey", in: "whsec_", wantErr: "empty key"},
		{name: "Empty", in: "  ", wantErr: "empty"},
		{name: "TooLong", in: strings.Repeat("a", maxSecretLen+1), wantErr: "longer than"},
		{name: "InvalidUTF8", in: "abc\xff", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sec, err := ParseSecret(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSecret error = %v, want ErrInvalidSecret containing %q", err, tt.wantErr)
				}
				if len(tt.in) > 6 && strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimSpace(tt.in), "whsec_")) {
					t.Errorf("error %q reveals the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(sec.V1Key()); got != tt.wantV1 {
				t.Errorf("V1Key = %q, want %q", got, tt.wantV1)
			}
			text := strings.TrimSpace(tt.in)
			if got := string(sec.LegacyKey()); got != text {
				t.Errorf("LegacyKey = %q, want %q", got, text)
			}
			sum := sha256.Sum256([]byte(text))
			if got, want := sec.Fingerprint(), hex.EncodeToString(sum[:4]); got != want {
				t.Errorf("Fingerprint = %s, want %s", got, want)
			}
			want := "…(fp " + sec.Fingerprint() + ")"
			if tt.prefixed {
				want = "whsec_" + want
			}
			if got := sec.String(); got != want {
				t.Errorf("String = %q, want %q", got, want)
			}
		})
	}
}

func TestSecretKeysAreCopies(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	k := fx.v1Secret.V1Key()
	k[0] ^= 0xff
	if bytes.Equal(k, fx.v1Secret.V1Key()) {
		t.Error("V1Key returns the Secret's own slice")
	}
}

func TestParseSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"One", "whsec_YWJj", 1, ""},
		{"TwoWithSpaceAndEmpties", " whsec_YWJj , ,whsec_ZGVm,", 2, ""},
		{"Empty", "", 0, "no secret in list"},
		{"OnlyCommas", " , ,", 0, "no secret in list"},
		{"BadItem", "whsec_YWJj,whsec_!!!", 0, "list item 2: whsec_ secret is not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSecrets(tt.in)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSecrets error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("ParseSecrets = %d secrets, %v; want %d", len(got), err, tt.want)
			}
		})
	}
}

// The secrets hooklatch signs with are a list separated by commas, white
// space or both: a comma list is not read as one secret, which gave a
// misleading base64 error.
func TestParseSecretList(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int{
		"whsec_YWJj":                       1,
		"whsec_YWJj,whsec_ZGVm":            2,
		"whsec_YWJj whsec_ZGVm":            2,
		" whsec_YWJj ,\twhsec_ZGVm\n, ":    2,
		"whsec_YWJj whsec_ZGVm,whsec_Z2hp": 3,
	} {
		got, err := ParseSecretList(in)
		if err != nil || len(got) != want {
			t.Errorf("ParseSecretList(%q) = %d secrets, %v; want %d", in, len(got), err, want)
		}
	}
	for in, wantErr := range map[string]string{
		"":                      "no secret in list",
		" , ":                   "no secret in list",
		"whsec_YWJj whsec_!!!":  "list item 2: whsec_ secret is not valid base64",
		"whsec_YWJj,,whsec_!!!": "list item 2: whsec_ secret is not valid base64",
	} {
		if _, err := ParseSecretList(in); !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseSecretList(%q) error = %v, want %q", in, err, wantErr)
		}
	}
}

// TestSecretNeverPrints formats a Secret every way a log line might.
func TestSecretNeverPrints(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	type config struct {
		Name   string
		Secret Secret
		All    []Secret
	}
	c := config{Name: "prod", Secret: fx.v1Secret, All: []Secret{fx.v1Secret, fx.legacySecret}}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, c), fmt.Sprintf(verb, fx.v1Secret))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "secret", fx.v1Secret, "all", c.All)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "secret", fx.v1Secret)
	out = append(out, buf.String())

	for _, s := range out {
		assertNoSecrets(t, s, fx)
	}
	if !strings.Contains(buf.String(), fx.v1Secret.Fingerprint()) {
		t.Errorf("slog output %q lacks the fingerprint", buf.String())
	}
}

// assertNoSecrets fails if s contains any form of the fixture's secrets.
func assertNoSecrets(t testing.TB, s string, fx *fixture) {
	t.Helper()
	forbidden := []string{
		fx.vec.V1.Secret,
		strings.TrimPrefix(fx.vec.V1.Secret, "whsec_"),
		strings.TrimRight(strings.TrimPrefix(fx.vec.V1.Secret, "whsec_"), "="),
		string(fx.v1Secret.V1Key()),
		hex.EncodeToString(fx.v1Secret.V1Key()),
		fx.vec.Legacy.Secret,
		hex.EncodeToString([]byte(fx.vec.Legacy.Secret)),
	}
	for _, f := range forbidden {
		if strings.Contains(s, f) {
			t.Errorf("output reveals a secret (%.8s…): %q", f, s)
		}
	}
}

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("two new secrets are the same")
	}
	if len(a.V1Key()) != 32 {
		t.Errorf("v1 key is %d bytes, want 32", len(a.V1Key()))
	}
	body := []byte(`{"field":"message"}`)
	v, err := NewVerifier(Config{Secrets: []Secret{a}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(Sign(V1, a, body, SignOptions{}), body); err != nil {
		t.Errorf("a new secret's signature does not verify: %v", err)
	}
	if _, err := v.Verify(Sign(V1, b, body, SignOptions{}), body); !errors.Is(err, ErrNoMatch) {
		t.Errorf("another new secret's signature: %v, want ErrNoMatch", err)
	}
}
