package celerydest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/celerydest"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/internal/workertest"
)

// Each task says whether its event was stale when claimed and its
// subject's latest status, in the task's hooklatch keyword argument (a
// boolean and a string) and in its headers (as text, as on every broker).
// Read back from the Redis list as a worker would pop it.
func TestTaskCarriesStaleness(t *testing.T) {
	url := workertest.ServiceURL(t, "HOOKLATCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
	queue := workertest.Name("hooklatch-celery-stale")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Del(context.Background(), queue); _ = rdb.Close() })
	dest, err := celerydest.New(celerydest.Config{BrokerURL: url, Queue: queue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dest.Close() })

	stale := destinationtest.NewDelivery(1)
	stale.Stale, stale.SubjectStatus = true, "READ"
	latest := destinationtest.NewDelivery(2)
	noSubject := destinationtest.NewDelivery(3)
	noSubject.Event.SubjectKind, noSubject.Event.Subject, noSubject.SubjectStatus = "", "", ""
	type want struct {
		stale  bool
		status string
	}
	wants := map[string]want{stale.Event.ID: {true, "READ"}, latest.Event.ID: {false, "DELIVERED"}, noSubject.Event.ID: {false, ""}}
	for _, dl := range []*destination.Delivery{stale, latest, noSubject} {
		if o := destination.Classify(dest.Deliver(t.Context(), dl)); o.Class != destination.Succeeded {
			t.Fatalf("delivery %d: %s: %v", dl.ID, o.Class, o.Err)
		}
	}
	raw, err := rdb.LRange(t.Context(), queue, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(wants) {
		t.Fatalf("%d tasks in the queue, want %d", len(raw), len(wants))
	}
	for _, r := range raw {
		var msg struct {
			Body    string         `json:"body"`
			Headers map[string]any `json:"headers"`
		}
		if err := json.Unmarshal([]byte(r), &msg); err != nil {
			t.Fatal(err)
		}
		body, err := base64.StdEncoding.DecodeString(msg.Body)
		if err != nil {
			t.Fatal(err)
		}
		var task []json.RawMessage // [args, kwargs, embed]
		var kw struct {
			Hooklatch map[string]any `json:"hooklatch"`
		}
		if err := json.Unmarshal(body, &task); err != nil || len(task) != 3 {
			t.Fatalf("task body %s: %v", body, err)
		}
		if err := json.Unmarshal(task[1], &kw); err != nil {
			t.Fatal(err)
		}
		id, _ := kw.Hooklatch["event_id"].(string)
		w, ok := wants[id]
		if !ok {
			t.Fatalf("a task for event %q, not one sent", id)
		}
		if kw.Hooklatch["stale"] != w.stale || kw.Hooklatch["subject_status"] != w.status {
			t.Errorf("event %s: hooklatch.stale %v, hooklatch.subject_status %v; want %v, %q",
				id, kw.Hooklatch["stale"], kw.Hooklatch["subject_status"], w.stale, w.status)
		}
		wantHeader := map[bool]string{true: "true", false: "false"}[w.stale]
		if msg.Headers["hooklatch-stale"] != wantHeader || msg.Headers["hooklatch-subject-status"] != w.status {
			t.Errorf("event %s: headers hooklatch-stale %v, hooklatch-subject-status %v; want %q, %q",
				id, msg.Headers["hooklatch-stale"], msg.Headers["hooklatch-subject-status"], wantHeader, w.status)
		}
	}
}
