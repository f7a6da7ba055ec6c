package signature

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SecretPrefix marks a v1 signing secret: "whsec_" followed by the base64 of
// the HMAC key.
const SecretPrefix = "whsec_"

// maxSecretLen bounds a secret's text. Sent's secrets are a few dozen bytes.
const maxSecretLen = 1024

// Secret is a parsed signing secret. Build one with ParseSecret or
// ParseSecrets; the zero Secret holds no key and is refused by NewVerifier.
//
// A Secret never prints its key material: String, fmt verbs and slog all show
// "whsec_…(fp 1a2b3c4d)", where the fingerprint is the first 8 hex digits of
// the SHA-256 of the secret's text (`printf %s "$SECRET" | sha256sum`).
type Secret struct {
	text     string // as given, surrounding space trimmed
	prefixed bool   // text starts with "whsec_"
	v1Key    []byte // the v1 HMAC key Sign uses
	v1Alt    []byte // unprefixed secrets only: the other v1 key candidate, or nil
	fp       string
}

// ParseSecret parses one signing secret, trimming surrounding white space.
//
// A "whsec_" secret must be base64 after the prefix (standard or URL
// alphabet, padding optional); its v1 key is the decoded bytes. A secret
// without the prefix is accepted too, because sources disagree on what v1
// does with it: Sent's own verifier base64-decodes it, another implementation
// uses its text as-is. Verify accepts either key; Sign uses the decoded one
// when the text is valid base64 and the text otherwise. The legacy key is
// always the secret's text, prefix included.
//
// Errors wrap ErrInvalidSecret and never contain the secret.
func ParseSecret(s string) (Secret, error) {
	sec, reason := parseSecret(s)
	if reason != "" {
		return Secret{}, fmt.Errorf("%w: %s", ErrInvalidSecret, reason)
	}
	return sec, nil
}

func parseSecret(s string) (Secret, string) {
	text := strings.TrimSpace(s)
	switch {
	case text == "":
		return Secret{}, "empty"
	case len(text) > maxSecretLen:
		return Secret{}, fmt.Sprintf("longer than %d bytes", maxSecretLen)
	case !utf8.ValidString(text):
		return Secret{}, "not valid UTF-8"
	}
	sec := Secret{text: text, fp: fingerprint(text)}
	if rest, ok := strings.CutPrefix(text, SecretPrefix); ok {
		key, ok := decodeBase64(rest)
		if !ok {
			return Secret{}, fmt.Sprintf("%s secret is not valid base64 (%d characters after the prefix)", SecretPrefix, len(rest))
		}
		if len(key) == 0 {
			return Secret{}, SecretPrefix + " secret has an empty key"
		}
		sec.prefixed = true
		sec.v1Key = key
		return sec, ""
	}
	if key, ok := decodeBase64(text); ok && len(key) > 0 {
		sec.v1Key, sec.v1Alt = key, []byte(text)
	} else {
		sec.v1Key = []byte(text)
	}
	return sec, ""
}

// ParseSecrets parses a comma-separated list of secrets, such as the value of
// an environment variable holding the current and the previous secret during
// a rotation. Items are trimmed and empty items skipped; at least one secret
// is required. Order is kept: Result.SecretIndex indexes this slice.
func ParseSecrets(list string) ([]Secret, error) {
	return parseList(strings.Split(list, ","))
}

// ParseSecretList is ParseSecrets for a list separated by commas, white
// space or both, as Standard Webhooks writes several signatures: the
// secrets hooklatch signs what it forwards with (a secret in such a list
// holds neither).
func ParseSecretList(list string) ([]Secret, error) {
	return parseList(strings.FieldsFunc(list, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }))
}

func parseList(items []string) ([]Secret, error) {
	var secrets []Secret
	for i, item := range items {
		if strings.TrimSpace(item) == "" {
			continue
		}
		sec, reason := parseSecret(item)
		if reason != "" {
			return nil, fmt.Errorf("%w: list item %d: %s", ErrInvalidSecret, i+1, reason)
		}
		secrets = append(secrets, sec)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret in list", ErrInvalidSecret)
	}
	return secrets, nil
}

// Fingerprint returns the first 8 hex digits of the SHA-256 of the secret's
// text: enough to tell secrets apart in logs, useless for recovering one.
func (s Secret) Fingerprint() string { return s.fp }

// String returns "whsec_…(fp 1a2b3c4d)", or "…(fp 1a2b3c4d)" for a secret
// without the prefix. It never reveals the secret.
func (s Secret) String() string {
	switch {
	case s.fp == "":
		return "(no secret)"
	case s.prefixed:
		return SecretPrefix + "…(fp " + s.fp + ")"
	default:
		return "…(fp " + s.fp + ")"
	}
}

// Format makes every fmt verb (%v, %+v, %#v, %x, %d, …) print String, so a
// Secret in a struct dumped with fmt cannot leak.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue makes slog print String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// V1Key returns a copy of the HMAC key the v1 scheme signs with.
func (s Secret) V1Key() []byte { return clone(s.v1Key) }

// LegacyKey returns a copy of the HMAC key of the legacy scheme: the secret's
// text as UTF-8, prefix included.
func (s Secret) LegacyKey() []byte { return []byte(s.text) }

// v1Keys lists every key Verify accepts for v1.
func (s Secret) v1Keys() [][]byte {
	if s.v1Alt != nil {
		return [][]byte{s.v1Key, s.v1Alt}
	}
	return [][]byte{s.v1Key}
}

func (s Secret) isZero() bool { return s.fp == "" }

func fingerprint(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:4])
}

// decodeBase64 decodes standard or URL-alphabet base64, with or without
// padding.
func decodeBase64(s string) ([]byte, bool) {
	for range 2 {
		s = strings.TrimSuffix(s, "=")
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// NewSecret returns a new random v1 secret, "whsec_" and the base64 of 32
// random bytes: for tests, benchmarks and a forger's signature in checks.
func NewSecret() Secret {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	s, err := ParseSecret(SecretPrefix + base64.StdEncoding.EncodeToString(b[:]))
	if err != nil {
		panic("signature: NewSecret: " + err.Error()) // 32 random bytes always parse
	}
	return s
}
