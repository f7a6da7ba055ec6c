package destinationtest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// ServiceURL returns the address of a server the test needs from the
// environment variable name (HOOKLATCH_TEST_REDIS, …). Without it the test
// is skipped, or fails when HOOKLATCH_REQUIRE_SERVICES=1, as in CI.
func ServiceURL(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is not set, and HOOKLATCH_REQUIRE_SERVICES=1 requires the server", name)
	}
	t.Skipf("skipped: set %s to run against a real server", name)
	return ""
}

// UniqueName returns prefix and random hex, to name a stream, subject,
// queue or topic no other test run uses.
func UniqueName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
