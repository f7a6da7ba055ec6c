package source_test

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// hmacVectors are the published HMAC test cases whose key a source's
// secrets can hold: text, written in the config file as YAML. The digests
// are copied from the RFCs. Left out: RFC 2202 and RFC 4231 test case 1
// (a key of twenty 0x0b bytes, vertical tabs, which source.New trims away
// as white space), test case 3, and RFC 4231's 6 and 7 and RFC 2202's 6
// and 7 (keys of 0xaa bytes, not UTF-8, which no YAML file holds), and
// test case 5 (a truncated digest: the hmac source compares whole ones).
var hmacVectors = []struct {
	name      string // the RFC and its test case
	algorithm string
	yamlKey   string // the secret as the config file writes it
	data      []byte
	digest    string // hex, as published
}{
	{"RFC 2202 test case 2", "sha1", `"Jefe"`, []byte("what do ya want for nothing?"),
		"effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	{"RFC 2202 test case 4", "sha1", `"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"`,
		bytes.Repeat([]byte{0xcd}, 50), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
	{"RFC 4231 test case 2, HMAC-SHA-256", "sha256", `"Jefe"`, []byte("what do ya want for nothing?"),
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{"RFC 4231 test case 2, HMAC-SHA-512", "sha512", `"Jefe"`, []byte("what do ya want for nothing?"),
		"164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
	{"RFC 4231 test case 4, HMAC-SHA-256", "sha256", `"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"`,
		bytes.Repeat([]byte{0xcd}, 50), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{"RFC 4231 test case 4, HMAC-SHA-512", "sha512", `"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"`,
		bytes.Repeat([]byte{0xcd}, 50),
		"b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
}

// TestHMACPublishedVectors: the generic hmac source, configured for each
// algorithm in hex, hex after a prefix and base64 after a prefix, accepts
// the digests RFC 2202 (HMAC-SHA-1) and RFC 4231 (HMAC-SHA-256 and -512)
// publish for their test cases, and refuses them for the data with one
// byte changed or under another secret, diagnosed as no secret matching.
func TestHMACPublishedVectors(t *testing.T) {
	t.Parallel()
	for _, v := range hmacVectors {
		var key string
		if err := yaml.Unmarshal([]byte(v.yamlKey), &key); err != nil {
			t.Fatalf("%s: the key as YAML: %v", v.name, err)
		}
		digest, err := hex.DecodeString(v.digest)
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range []struct{ encoding, prefix, value string }{
			{"hex", "", v.digest},
			{"hex", v.algorithm + "=", v.algorithm + "=" + v.digest},
			{"base64", "v1,", "v1," + base64.StdEncoding.EncodeToString(digest)},
		} {
			t.Run(v.name+"/"+enc.encoding+"/"+cmp.Or(enc.prefix, "no prefix"), func(t *testing.T) {
				t.Parallel()
				settings := func(secret string) source.Settings {
					return source.Settings{Name: "generic", Provider: "hmac", Secrets: []string{secret}, HMAC: source.HMACSettings{
						Header: "X-Signature", Algorithm: v.algorithm, Encoding: enc.encoding, Prefix: enc.prefix}}
				}
				src, err := source.New(settings(key))
				if err != nil {
					t.Fatal(err)
				}
				req := func(body []byte) *http.Request {
					r := httptest.NewRequest(http.MethodPost, "/webhooks/generic", bytes.NewReader(body))
					r.Header.Set("X-Signature", enc.value)
					return r
				}
				if _, err := src.Verify(req(v.data), v.data); err != nil {
					t.Fatalf("the published digest: %v\n%s", err, src.Diagnose(req(v.data).Header, "", v.data, now))
				}
				changed := bytes.Clone(v.data)
				changed[len(changed)/2] ^= 1
				refused(t, src, "one byte changed", req(changed), changed, signature.ErrNoMatch, signature.CauseNoSecretMatched)
				other, err := source.New(settings(key + "x"))
				if err != nil {
					t.Fatal(err)
				}
				refused(t, other, "another secret", req(v.data), v.data, signature.ErrNoMatch, signature.CauseNoSecretMatched)
			})
		}
	}
}

// TestHMACVectorKeysAsConfigured: the keys above are what the RFCs give,
// once the config file's YAML is read.
func TestHMACVectorKeysAsConfigured(t *testing.T) {
	t.Parallel()
	var key string
	if err := yaml.Unmarshal([]byte(hmacVectors[1].yamlKey), &key); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 25)
	for i := range want {
		want[i] = byte(i + 1)
	}
	if !bytes.Equal([]byte(key), want) {
		t.Errorf("RFC 2202 test case 4's key read from YAML as %x, want %x", key, want)
	}
}
