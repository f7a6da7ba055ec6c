package destination_test

import (
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/store"
)

// Every name is present, in MetadataNames' order; the delivery ID is kept
// exact however large, and the time is UTC whatever zone it was stored in.
func TestMetadata(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	d := &destination.Delivery{ID: 1<<63 - 1, Attempt: 12, Event: &store.Event{EventData: store.EventData{
		ID: "e1", Type: "message.read", Source: "payments", ReceivedAt: time.Date(2025, 10, 31, 11, 10, 43, 5000, paris),
	}}}
	want := []string{"e1", "message.read", "", "2025-10-31T10:10:43.000005Z", "12", "9223372036854775807", "false", "", "payments"}
	for i, f := range destination.Metadata(d) {
		if f.Name != destination.MetadataNames[i] || f.Value != want[i] {
			t.Errorf("field %d = %s: %q, want %s: %q", i, f.Name, f.Value, destination.MetadataNames[i], want[i])
		}
	}
}

// A delivery says whether its event was stale when claimed and its
// subject's latest status, under the same names on every broker.
func TestMetadataStale(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		stale                 bool
		subjectStatus         string
		wantStale, wantStatus string
	}{
		{"stale", true, "READ", "true", "READ"},
		{"latest", false, "DELIVERED", "false", "DELIVERED"},
		{"no subject", false, "", "false", ""},
	}
	for _, tt := range tests {
		d := &destination.Delivery{ID: 1, Attempt: 1, Stale: tt.stale, SubjectStatus: tt.subjectStatus, Event: &store.Event{EventData: store.EventData{ID: "e1"}}}
		got := map[string]string{}
		for _, f := range destination.Metadata(d) {
			got[f.Name] = f.Value
		}
		if got["hooklatch-stale"] != tt.wantStale || got["hooklatch-subject-status"] != tt.wantStatus {
			t.Errorf("%s: hooklatch-stale %q, hooklatch-subject-status %q; want %q, %q",
				tt.name, got["hooklatch-stale"], got["hooklatch-subject-status"], tt.wantStale, tt.wantStatus)
		}
	}
}
