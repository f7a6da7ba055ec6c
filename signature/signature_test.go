package signature

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The test vectors of the protocol notes (§3.3), over f1.json. The clock is
// frozen at the vectors' timestamp.
const fixtureUnix = 1761905442

var fixtureNow = time.Unix(fixtureUnix, 0)

type testVectors struct {
	V1 struct {
		Secret    string `json:"secret"`
		ID        string `json:"x-webhook-id"`
		Timestamp string `json:"x-webhook-timestamp"`
		BodyFile  string `json:"body_file"`
		Signature string `json:"x-webhook-signature"`
	} `json:"v1"`
	Legacy struct {
		Secret    string `json:"secret"`
		BodyFile  string `json:"body_file"`
		Signature string `json:"x-webhook-signature"`
	} `json:"legacy"`
}

// fixture is what most tests start from: the vectors, f1.json and parsed
// secrets.
type fixture struct {
	vec          testVectors
	body         []byte // f1.json, 364 bytes
	v1Secret     Secret
	legacySecret Secret
}

func setup(t testing.TB) *fixture {
	t.Helper()
	dir := filepath.Join("..", "testdata", "sent")
	raw, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{}
	if err := json.Unmarshal(raw, &fx.vec); err != nil {
		t.Fatal(err)
	}
	if fx.body, err = os.ReadFile(filepath.Join(dir, fx.vec.V1.BodyFile)); err != nil {
		t.Fatal(err)
	}
	if len(fx.body) != 364 {
		t.Fatalf("f1.json is %d bytes, want 364", len(fx.body))
	}
	if fx.v1Secret, err = ParseSecret(fx.vec.V1.Secret); err != nil {
		t.Fatal(err)
	}
	if fx.legacySecret, err = ParseSecret(fx.vec.Legacy.Secret); err != nil {
		t.Fatal(err)
	}
	return fx
}

// v1Header returns the vector's v1 headers.
func (fx *fixture) v1Header() http.Header {
	h := http.Header{}
	h.Set(HeaderID, fx.vec.V1.ID)
	h.Set(HeaderTimestamp, fx.vec.V1.Timestamp)
	h.Set(HeaderSignature, fx.vec.V1.Signature)
	return h
}

// legacyHeader returns the vector's legacy header.
func (fx *fixture) legacyHeader() http.Header {
	h := http.Header{}
	h.Set(HeaderSignature, fx.vec.Legacy.Signature)
	return h
}

// signV1 signs body like Sent would at unix, with the vector's webhook id.
func (fx *fixture) signV1(key []byte, unix int64, body []byte) http.Header {
	h := http.Header{}
	h.Set(HeaderID, fx.vec.V1.ID)
	h.Set(HeaderTimestamp, strconv.FormatInt(unix, 10))
	h.Set(HeaderSignature, SignV1(key, fx.vec.V1.ID, unix, body))
	return h
}

func (fx *fixture) verifier(t testing.TB, mutate func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Secrets: []Secret{fx.v1Secret, fx.legacySecret},
		NowFunc: func() time.Time { return fixtureNow },
	}
	if mutate != nil {
		mutate(&cfg)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVectors(t *testing.T) {
	t.Parallel()
	fx := setup(t)

	t.Run("V1Key", func(t *testing.T) {
		t.Parallel()
		if got := string(fx.v1Secret.V1Key()); got != "sent-fixture-signing-key-0123456" {
			t.Errorf("V1Key = %q", got)
		}
	})
	t.Run("SignV1", func(t *testing.T) {
		t.Parallel()
		got := SignV1(fx.v1Secret.V1Key(), fx.vec.V1.ID, fixtureUnix, fx.body)
		if got != fx.vec.V1.Signature {
			t.Errorf("SignV1 = %s, want %s", got, fx.vec.V1.Signature)
		}
	})
	t.Run("SignLegacy", func(t *testing.T) {
		t.Parallel()
		got := SignLegacy(fx.legacySecret.LegacyKey(), fx.body)
		if got != fx.vec.Legacy.Signature {
			t.Errorf("SignLegacy = %s, want %s", got, fx.vec.Legacy.Signature)
		}
	})
	t.Run("Sign", func(t *testing.T) {
		t.Parallel()
		h := Sign(V1, fx.v1Secret, fx.body, SignOptions{WebhookID: fx.vec.V1.ID, Timestamp: fixtureNow})
		if got := h.Get(HeaderSignature); got != fx.vec.V1.Signature {
			t.Errorf("v1 %s = %s", HeaderSignature, got)
		}
		if got := h.Get(HeaderTimestamp); got != fx.vec.V1.Timestamp {
			t.Errorf("%s = %s", HeaderTimestamp, got)
		}
		h = Sign(Legacy, fx.legacySecret, fx.body, SignOptions{})
		if got := h.Get(HeaderSignature); got != fx.vec.Legacy.Signature {
			t.Errorf("legacy %s = %s", HeaderSignature, got)
		}
		if len(h) != 1 {
			t.Errorf("legacy Sign set %d headers, want 1", len(h))
		}
	})
	t.Run("VerifyV1", func(t *testing.T) {
		t.Parallel()
		res, err := fx.verifier(t, nil).Verify(fx.v1Header(), fx.body)
		if err != nil {
			t.Fatal(err)
		}
		want := Result{Scheme: V1, SecretIndex: 0, WebhookID: fx.vec.V1.ID, Timestamp: fixtureNow}
		if !res.Timestamp.Equal(want.Timestamp) || res.Scheme != want.Scheme || res.SecretIndex != 0 || res.WebhookID != want.WebhookID {
			t.Errorf("Result = %+v, want %+v", res, want)
		}
	})
	t.Run("VerifyLegacy", func(t *testing.T) {
		t.Parallel()
		res, err := fx.verifier(t, nil).Verify(fx.legacyHeader(), fx.body)
		if err != nil {
			t.Fatal(err)
		}
		if res.Scheme != Legacy || res.SecretIndex != 1 || !res.Timestamp.IsZero() {
			t.Errorf("Result = %+v", res)
		}
	})
}

func TestParseScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Scheme
		wantErr bool
	}{
		{"v1", V1, false},
		{"V1", V1, false},
		{" legacy ", Legacy, false},
		{"LEGACY", Legacy, false},
		{"", "", true},
		{"v2", "", true},
		{"sha256", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseScheme(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseScheme(%q) = %q, %v", tt.in, got, err)
			}
			if err != nil && !errors.Is(err, ErrUnknownScheme) {
				t.Errorf("error %v does not wrap ErrUnknownScheme", err)
			}
		})
	}
}
