package bullmqdest_test

import (
	"encoding/json"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/bullmqdest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
)

// Each job's hooklatch metadata says whether its event was stale when
// claimed (a boolean) and its subject's latest status. Read back from the
// job's hash as a BullMQ worker loads it.
func TestJobCarriesStaleness(t *testing.T) {
	e := setup(t, bullmqdest.Config{})
	stale := destinationtest.NewDelivery(1)
	stale.Stale, stale.SubjectStatus = true, "READ"
	latest := destinationtest.NewDelivery(2)
	noSubject := destinationtest.NewDelivery(3)
	noSubject.Event.SubjectKind, noSubject.Event.Subject, noSubject.SubjectStatus = "", "", ""
	tests := []struct {
		dl         *destination.Delivery
		wantStale  bool
		wantStatus string
	}{
		{stale, true, "READ"},
		{latest, false, "DELIVERED"},
		{noSubject, false, ""},
	}
	for _, tt := range tests {
		if o := destination.Classify(e.dest.Deliver(t.Context(), tt.dl)); o.Class != destination.Succeeded {
			t.Fatalf("delivery %d: %s: %v", tt.dl.ID, o.Class, o.Err)
		}
		raw, err := e.rdb.HGet(t.Context(), "bull:"+e.queue+":"+tt.dl.Event.ID, "data").Result()
		if err != nil {
			t.Fatalf("job %s: %v", tt.dl.Event.ID, err)
		}
		var data struct {
			Hooklatch map[string]any `json:"hooklatch"`
		}
		if err := json.Unmarshal([]byte(raw), &data); err != nil {
			t.Fatal(err)
		}
		if data.Hooklatch["stale"] != tt.wantStale || data.Hooklatch["subject_status"] != tt.wantStatus {
			t.Errorf("event %s: hooklatch.stale %v, hooklatch.subject_status %v; want %v, %q",
				tt.dl.Event.ID, data.Hooklatch["stale"], data.Hooklatch["subject_status"], tt.wantStale, tt.wantStatus)
		}
	}
}
