package workertest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
)

// Payload is what a worker got for one delivery: the parsed envelope,
// hooklatch's metadata and the raw body, as decoded from its JSON line.
type Payload struct {
	Event   any
	Meta    map[string]any
	RawBody any
}

// CheckPayload checks p against the delivery it came from: the body byte
// for byte, the envelope, and the metadata.
func CheckPayload(t testing.TB, p Payload, dl *destination.Delivery) {
	t.Helper()
	if p.RawBody != string(dl.Event.Body) {
		t.Errorf("event %s: raw_body %q, want the body byte for byte %q", dl.Event.ID, p.RawBody, dl.Event.Body)
	}
	var want any
	if err := json.Unmarshal(dl.Event.Body, &want); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.Event) != fmt.Sprint(want) {
		t.Errorf("event %s: envelope %v, want %v", dl.Event.ID, p.Event, want)
	}
	for key, want := range map[string]any{
		"event_id": dl.Event.ID, "event_type": dl.Event.Type, "subject": dl.Event.Subject,
		"delivery_id": fmt.Sprint(dl.ID), "received_at": dl.Event.ReceivedAt.Format(time.RFC3339Nano),
		"attempt": float64(dl.Attempt), "stale": dl.Stale, "subject_status": dl.SubjectStatus,
		"source": dl.Event.Source,
	} {
		if p.Meta[key] != want {
			t.Errorf("event %s: hooklatch.%s = %v, want %v", dl.Event.ID, key, p.Meta[key], want)
		}
	}
}

// Rejects checks that parse refuses each URL with an error containing
// the text given for it, and never prints the password "secret".
func Rejects(t testing.TB, parse func(string) error, cases map[string]string) {
	t.Helper()
	for raw, says := range cases {
		err := parse(raw)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("ParseURL(%q) = %v, want an error saying %q", raw, err, says)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q) prints the password: %v", raw, err)
		}
	}
}
