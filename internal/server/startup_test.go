package server_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/leaktest"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// A serve that cannot start, because its admin address is taken, leaves
// nothing of its own running: no receiver, dispatcher or store goroutine,
// its destinations closed, its store free for the next owner and its
// webhook address free. (Not parallel: it counts goroutines.)
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	webhook := freeAddr(t)
	dest := new(closingDestination)
	path := filepath.Join(t.TempDir(), "h.db")
	before := len(leaktest.Stacks())

	srv, err := server.New(context.Background(), server.Config{
		Addr: webhook, AdminAddr: taken.Addr().String(), Store: path, Secrets: testSecrets(t),
		Routes: []dispatch.Route{{Name: "broker", Destination: dest}}, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("Run = %v, want the admin listener's error", err)
	}
	assertStopped(t, before, dest, path)
	ln, err := net.Listen("tcp", webhook)
	if err != nil {
		t.Fatalf("the webhook address is still bound: %v", err)
	}
	ln.Close()
}

// A serve whose configuration fails late (two destinations of one name,
// found once the store is open and the admin built) closes what it had
// opened before New returns. (Not parallel: it counts goroutines.)
func TestFailedNewLeavesNothingRunning(t *testing.T) {
	dest := new(closingDestination)
	path := filepath.Join(t.TempDir(), "h.db")
	before := len(leaktest.Stacks())
	_, err := server.New(context.Background(), server.Config{
		Addr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", Store: path, Secrets: testSecrets(t),
		Routes: []dispatch.Route{{Name: "broker", Destination: dest}, {Name: "broker", Destination: dest}}, Logger: slog.New(slog.DiscardHandler),
	})
	if !errors.Is(err, server.ErrConfig) {
		t.Fatalf("New = %v, want a configuration error", err)
	}
	assertStopped(t, before, dest, path)
}

// assertStopped checks that no more of hooklatch's goroutines run than
// before, that dest was closed and that the store at path has no owner.
func assertStopped(t *testing.T, before int, dest *closingDestination, path string) {
	t.Helper()
	if after := leaktest.Stacks(); len(after) > before {
		t.Errorf("%d of hooklatch's goroutines running, %d before the start:\n%s", len(after), before, strings.Join(after, "\n\n"))
	}
	if n := dest.closes.Load(); n == 0 {
		t.Error("the destination was not closed")
	}
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Exclusive: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the store still has an owner: %v", err)
	}
	st.Close()
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
