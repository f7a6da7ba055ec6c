package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/sqlite"
	"github.com/hooklatch/hooklatch/store/storetest"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips when the
// test cannot mount one (it needs root), unless HOOKLATCH_REQUIRE_SERVICES=1.
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("a full disk needs a small file system: mount -t tmpfs (as root) failed: %v: %s", err, out)
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file at path until the file system has no room left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// crashImage leaves at dir/h.db what a store killed mid-write leaves: the
// database and a write-ahead log holding its last commits, no lock held.
func crashImage(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	live := filepath.Join(t.TempDir(), "h.db")
	st, err := sqlite.Open(ctx, live, sqlite.Options{CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range 20 {
		if _, err := st.Append(ctx, storetest.NewEvent("sent", fmt.Sprint("before-", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"h.db", "h.db-wal"} {
		copyFile(t, filepath.Join(filepath.Dir(live), name), filepath.Join(dir, name))
	}
	return filepath.Join(dir, "h.db")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A serve that starts on a full disk, after a crash, starts anyway: it
// says why it cannot accept, answers webhooks 503 and /readyz not ready,
// and accepts once space is freed, without a restart.
func TestSQLiteDiskFullAtStartup(t *testing.T) {
	t.Parallel()
	dir := smallDisk(t, 4<<20)
	path := crashImage(t, dir)
	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	srv := startOn(t, path, server.Config{})
	secret := testSecrets(t)[0]
	client := &http.Client{Timeout: 30 * time.Second}
	status, retryAfter, _, err := postEvent(client, srv, secret, "on-a-full-disk")
	if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
		t.Fatalf("webhook on a full disk = %d (Retry-After %q), %v; want 503 with Retry-After", status, retryAfter, err)
	}
	ready := "http://" + srv.AdminAddr() + "/readyz"
	if code, body := get(t, ready); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz on a full disk = %d %s, want 503", code, body)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitRecovered(t, client, srv, secret, "on-a-full-disk", "space is freed")
	ctx := context.Background()
	if st, err := srv.Store().Stats(ctx); err != nil || st.Events != 21 {
		t.Errorf("stats = %+v (%v), want the 20 events from before the crash and the new one", st, err)
	}
}

// waitRecovered sends messageID again, as Sent retries, until it is
// accepted, waits for /readyz to say ready, and checks the acknowledged
// event is stored.
func waitRecovered(t *testing.T, client *http.Client, srv *server.Server, secret signature.Secret, messageID, what string) {
	t.Helper()
	var id string
	waitUntil(t, "the event to be accepted once "+what, func() bool {
		status, _, eventID, err := postEvent(client, srv, secret, messageID)
		id = eventID
		return err == nil && status == http.StatusOK
	})
	waitUntil(t, "/readyz to say ready", func() bool {
		code, _ := get(t, "http://"+srv.AdminAddr()+"/readyz")
		return code == http.StatusOK
	})
	if _, err := srv.Store().GetEvent(context.Background(), id); err != nil {
		t.Fatalf("acknowledged event %s: %v", id, err)
	}
}
