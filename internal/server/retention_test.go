package server_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/clock"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// A server on SQLite prunes by its retention, and shows it in metrics.
func TestSQLiteRetentionPrunes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "h.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	old := storetest.NewEvent("sent", "old")
	old.ReceivedAt = now.Add(-40 * 24 * time.Hour)
	recent := storetest.NewEvent("sent", "recent")
	recent.ReceivedAt = now.Add(-time.Hour)
	for _, ev := range []*store.NewEvent{old, recent} {
		if _, err := s.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	srv := startOn(t, path, server.Config{StoreOnly: true, Clock: clock.NewManual(now)})
	waitUntil(t, "the retention metrics", func() bool {
		_, body := get(t, "http://"+srv.AdminAddr()+"/metrics")
		return strings.Contains(body, `hooklatch_retention_pruned_total{what="events"} 1`) &&
			strings.Contains(body, "hooklatch_oldest_event_age_seconds 3600")
	})
	if _, err := srv.Store().GetEvent(ctx, old.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the event past the retention: %v; want it pruned", err)
	}
	if _, err := srv.Store().GetEvent(ctx, recent.ID); err != nil {
		t.Errorf("the recent event: %v", err)
	}
}
