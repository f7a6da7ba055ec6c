package signature

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestSignDefaults(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	before := time.Now().Unix()
	h := Sign(V1, fx.v1Secret, fx.body, SignOptions{})
	after := time.Now().Unix()

	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if id := h.Get(HeaderID); !uuid4.MatchString(id) {
		t.Errorf("%s = %q, want a UUIDv4", HeaderID, id)
	}
	if h.Get(HeaderID) == Sign(V1, fx.v1Secret, fx.body, SignOptions{}).Get(HeaderID) {
		t.Error("two default webhook ids are equal")
	}
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil || ts < before || ts > after {
		t.Errorf("%s = %q, want now", HeaderTimestamp, h.Get(HeaderTimestamp))
	}

	v, err := NewVerifier(Config{Secrets: []Secret{fx.v1Secret}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(h, fx.body); err != nil {
		t.Errorf("Verify(Sign(…)) with the real clock: %v", err)
	}
}

func TestSignUnknownScheme(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	h := Sign("v2", fx.v1Secret, fx.body, SignOptions{})
	if len(h) != 0 {
		t.Errorf("Sign(v2) = %v, want an empty header", h)
	}
	if _, err := fx.verifier(t, nil).Verify(h, fx.body); ReasonCode(err) != "missing_signature" {
		t.Errorf("Verify(Sign(v2)) = %v, want missing_signature", err)
	}
}

func TestSignRoundTrip(t *testing.T) {
	t.Parallel()
	fx := setup(t)
	unprefixed := mustParseSecret(t, "plain text secret")
	for _, scheme := range []Scheme{V1, Legacy} {
		for _, sec := range []Secret{fx.v1Secret, fx.legacySecret, unprefixed} {
			t.Run(string(scheme)+"/"+sec.String(), func(t *testing.T) {
				t.Parallel()
				v := fx.verifier(t, func(c *Config) { c.Secrets = []Secret{sec} })
				for _, body := range [][]byte{nil, {}, fx.body, []byte("not json \x00\xff")} {
					h := Sign(scheme, sec, body, SignOptions{WebhookID: "wh_1", Timestamp: fixtureNow})
					res, err := v.Verify(h, body)
					if err != nil || res.Scheme != scheme {
						t.Errorf("Verify(Sign(%q)) = %+v, %v", body, res, err)
					}
				}
			})
		}
	}
}
