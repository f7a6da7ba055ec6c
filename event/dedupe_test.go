package event

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func TestDedupeKey(t *testing.T) {
	t.Parallel()

	f1, f8 := fixture(t, "f1"), fixture(t, "f8")
	hash := func(b []byte) string {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:])
	}
	long := strings.Repeat("e", 257)
	exactly256 := strings.Repeat("e", 256)

	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		parse   bool
		want    string
	}{
		{"event id header wins over envelope id", map[string]string{"X-Webhook-Event-Id": "evt_123"}, f8, true, "event-id:evt_123"},
		{"header name is case-insensitive", map[string]string{"x-webhook-event-id": "evt_123"}, f1, true, "event-id:evt_123"},
		{"header value trimmed", map[string]string{"X-Webhook-Event-Id": "  evt_123\t"}, f1, true, "event-id:evt_123"},
		{"envelope id next", nil, f8, true, "id:evt_legacy_0001"},
		{"body hash last", nil, f1, true, "sha256:" + hash(f1)},
		{"X-Webhook-Id is never used", map[string]string{"X-Webhook-Id": "d4f5a6b7-c8d9-4e0f-a1b2-c3d4e5f6a7b8"}, f1, true, "sha256:" + hash(f1)},
		{"X-Webhook-Id ignored with an envelope id", map[string]string{"X-Webhook-Id": "endpoint"}, f8, true, "id:evt_legacy_0001"},
		{"blank header falls through", map[string]string{"X-Webhook-Event-Id": "   "}, f8, true, "id:evt_legacy_0001"},
		{"unparseable body, no envelope", nil, []byte("not json"), false, "sha256:" + hash([]byte("not json"))},
		{"unparseable body, header", map[string]string{"X-Webhook-Event-Id": "evt_9"}, []byte("not json"), false, "event-id:evt_9"},
		{"256-byte header kept", map[string]string{"X-Webhook-Event-Id": exactly256}, f1, true, "event-id:" + exactly256},
		{"long header hashed", map[string]string{"X-Webhook-Event-Id": long}, f1, true, "event-id-sha256:" + hash([]byte(long))},
		{"non-ASCII header hashed", map[string]string{"X-Webhook-Event-Id": "évt"}, f1, true, "event-id-sha256:" + hash([]byte("évt"))},
		{"long envelope id hashed", nil, []byte(`{"id":"` + long + `","field":"messages"}`), true, "id-sha256:" + hash([]byte(long))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			var env *Envelope
			if tt.parse {
				env = mustParse(t, tt.body)
			}
			got := DedupeKey(h, tt.body, env)
			if got != tt.want {
				t.Errorf("DedupeKey = %q, want %q", got, tt.want)
			}
			if len(got) > len("event-id-sha256:")+64 && !strings.HasPrefix(got, "event-id:") {
				t.Errorf("key of %d bytes", len(got))
			}
		})
	}

	t.Run("same body same key, other body other key", func(t *testing.T) {
		t.Parallel()
		a := DedupeKey(nil, f1, mustParse(t, f1))
		b := DedupeKey(http.Header{"X-Webhook-Timestamp": {"1705334531"}}, append([]byte(nil), f1...), nil)
		c := DedupeKey(nil, fixture(t, "f2"), nil)
		if a != b {
			t.Errorf("same body: %q != %q", a, b)
		}
		if a == c {
			t.Errorf("different bodies share the key %q", a)
		}
	})
}

// IDKeys names the keys DedupeKey gives an event id, from the header and
// from a gen 1 envelope, however long the id.
func TestIDKeysMatchDedupeKey(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"evt_legacy_0001", strings.Repeat("e", 300)} {
		keys := IDKeys(id)
		fromHeader := DedupeKey(http.Header{HeaderEventID: {id}}, nil, nil)
		fromEnvelope := DedupeKey(nil, nil, &Envelope{ID: id})
		if len(keys) != 2 || keys[0] != fromHeader || keys[1] != fromEnvelope {
			t.Errorf("IDKeys(%.20q…) = %v, want [%s %s]", id, keys, fromHeader, fromEnvelope)
		}
	}
}
