package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store"
)

// An event marshals to the same fields and values as before the split
// (the JSON below is what the one flat Event wrote), with its optional
// fields set and unset. Only the order of the keys differs: encoding/json
// writes EventData's promoted fields where Event embeds it, so "seq" now
// follows them rather than "id".
func TestEventJSONKeepsItsFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 5000, time.UTC)
	full := store.Event{
		EventData: store.EventData{ID: "019a", Source: "sent", DedupeKey: "event-id:evt_1", Field: "message",
			Type: "message.read", SubjectKind: "message_id", Subject: "m1", Status: "READ", OccurredAt: at,
			ReceivedAt: at.Add(time.Second), Scheme: "v1", Attention: "unknown type: x",
			Headers: map[string]string{"content-type": "application/json"}, Body: []byte(`{"secret":1}`),
			TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		Seq: 7, Duplicates: 2, Rank: 4, Stale: true,
		DeliveryCounts: map[store.DeliveryStatus]int{store.DeliveryDead: 1, store.DeliverySucceeded: 2},
	}
	for name, c := range map[string]struct {
		ev   store.Event
		want string
	}{
		"every field": {full, `{"id":"019a","seq":7,"source":"sent","dedupe_key":"event-id:evt_1","field":"message",` +
			`"type":"message.read","subject_kind":"message_id","subject":"m1","status":"READ",` +
			`"occurred_at":"2026-03-01T12:00:00.000005Z","received_at":"2026-03-01T12:00:01.000005Z","scheme":"v1",` +
			`"attention":"unknown type: x","headers":{"content-type":"application/json"},` +
			`"trace_parent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","duplicates":2,"rank":4,"stale":true,` +
			`"delivery_counts":{"dead":1,"succeeded":2}}`},
		"no field": {store.Event{}, `{"id":"","seq":0,"source":"","dedupe_key":"","field":"","type":"","subject_kind":"",` +
			`"subject":"","status":"","occurred_at":"0001-01-01T00:00:00Z","received_at":"0001-01-01T00:00:00Z",` +
			`"scheme":"","headers":null,"duplicates":0,"rank":0,"stale":false}`},
	} {
		b, err := json.Marshal(c.ev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := decoded(t, b), decoded(t, []byte(c.want)); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: marshals to %s,\nwant the fields of %s", name, b, c.want)
		}
	}
}

func decoded(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
