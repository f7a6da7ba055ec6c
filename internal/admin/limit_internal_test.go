package admin

import (
	"log/slog"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// However many addresses fail, the limiter tracks at most its cap; the
// addresses beyond it share one allowance, so they are limited too, and
// an address already counting down keeps its count.
func TestFailureLimitMemoryIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	l := newFailureLimit(func() time.Time { return now }, slog.New(slog.DiscardHandler))
	for range failureBurst {
		l.fail("192.0.2.1")
	}
	if l.wait("192.0.2.1") == 0 {
		t.Fatal("an address that spent its burst is not refused")
	}
	base := netip.MustParseAddr("10.0.0.0")
	for range 3 * maxTrackedClients { // all at once: none has its burst back
		base = base.Next()
		l.fail(base.String())
	}
	if n := l.tracked(); n > maxTrackedClients {
		t.Errorf("%d addresses tracked, want at most %d", n, maxTrackedClients)
	}
	if l.wait("198.51.100.7") == 0 {
		t.Error("a new address, once the table is full and the shared allowance spent, is not refused")
	}
	if l.wait("192.0.2.1") == 0 {
		t.Error("the first address was forgotten while it was still refused")
	}
	now = now.Add(time.Hour) // every bucket full again: the table empties
	l.fail("203.0.113.9")
	if n := l.tracked(); n != 1 {
		t.Errorf("after an hour, %d addresses tracked, want the one that just failed", n)
	}
}

// An IPv6 client is its /64, which one host commonly holds whole.
func TestClientKeyGroupsIPv6By64(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"192.0.2.1:5000":                  "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":         "192.0.2.1",
		"[2001:db8:1:2:aaaa::1]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff::9]:443": "2001:db8:1:2::/64",
	} {
		if got := clientKey(&http.Request{RemoteAddr: addr}); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", addr, got, want)
		}
	}
}
