package logdest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/destination/destinationtest"
	"github.com/hooklatch/hooklatch/destination/logdest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	destinationtest.Run(t, destinationtest.Harness{
		New: func(t *testing.T, _ destinationtest.Behaviour) (destination.Destination, destinationtest.Observer) {
			rec := new(destinationtest.Recorder)
			w := writerFunc(func(p []byte) {
				var line struct {
					EventID string `json:"event_id"`
				}
				if err := json.Unmarshal(p, &line); err != nil {
					t.Errorf("log line is not one JSON object: %v: %q", err, p)
				}
				rec.Record(destinationtest.Received{EventID: line.EventID})
			})
			return logdest.New(slog.New(slog.NewJSONHandler(w, nil))), rec
		},
		Limits: destinationtest.Limits{NeverFails: true, BodyNotObserved: true},
	})
}

func TestDeliverLogsOneLine(t *testing.T) {
	t.Parallel()
	withAttention := destinationtest.NewDelivery(2)
	withAttention.Event.Attention = "unknown type: message.teleported"
	withAttention.Attempt = 3
	withAttention.Stale, withAttention.SubjectStatus = true, "READ"
	noSubject := destinationtest.NewDelivery(3)
	noSubject.Event.SubjectKind, noSubject.Event.Subject, noSubject.SubjectStatus = "", "", ""

	tests := []struct {
		name string
		dl   *destination.Delivery
		want map[string]any
	}{
		{
			name: "well formed",
			dl:   destinationtest.NewDelivery(1),
			want: map[string]any{
				"level": "INFO", "msg": "event",
				"event_id": "0199f1a2-7b3c-7d4e-8f5a-000000000001", "type": "message.delivered",
				"subject_kind": "message_id", "subject": "8ba7b830-9dad-11d1-80b4-000000000001",
				"status": "DELIVERED", "source": "sent", "attempt": float64(1), "dedupe_key": "evt_000001",
				"stale": false, "subject_status": "DELIVERED",
			},
		},
		{
			name: "attention",
			dl:   withAttention,
			want: map[string]any{
				"level": "INFO", "msg": "event",
				"event_id": "0199f1a2-7b3c-7d4e-8f5a-000000000002", "type": "message.delivered",
				"subject_kind": "message_id", "subject": "8ba7b830-9dad-11d1-80b4-000000000002",
				"status": "DELIVERED", "source": "sent", "attempt": float64(3), "dedupe_key": "evt_000002",
				"attention": "unknown type: message.teleported",
				"stale":     true, "subject_status": "READ",
			},
		},
		{
			name: "no subject",
			dl:   noSubject,
			want: map[string]any{
				"level": "INFO", "msg": "event",
				"event_id": "0199f1a2-7b3c-7d4e-8f5a-000000000003", "type": "message.delivered",
				"subject_kind": "", "subject": "",
				"status": "DELIVERED", "source": "sent", "attempt": float64(1), "dedupe_key": "evt_000003",
				"stale": false,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
			if err := logdest.New(logger).Deliver(t.Context(), tt.dl); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
			if len(lines) != 1 {
				t.Fatalf("%d lines logged, want 1:\n%s", len(lines), buf.Bytes())
			}
			var got map[string]any
			if err := json.Unmarshal(lines[0], &got); err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("logged keys %v\nwant %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(tt.want)))
				for k, v := range tt.want {
					if got[k] != v {
						t.Errorf("%s = %v, want %v", k, got[k], v)
					}
				}
			}
			if bytes.Contains(buf.Bytes(), []byte("payload")) {
				t.Errorf("the body was logged: %s", buf.Bytes())
			}
		})
	}
}

func TestDeliverSucceedsWithCancelledContext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := logdest.New(slog.New(slog.NewTextHandler(&buf, nil))).Deliver(ctx, destinationtest.NewDelivery(1)); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if buf.Len() == 0 {
		t.Fatal("nothing logged")
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// writerFunc calls fn with each write; slog handlers write one record per
// call, one call at a time.
type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) {
	f(p)
	return len(p), nil
}
