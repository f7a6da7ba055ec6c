package certificate_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/certificate"
	"github.com/hooklatch/hooklatch/internal/certificate/certtest"
	"github.com/hooklatch/hooklatch/internal/logtest"
)

// Files looks at its files at most every CheckEvery, on a handshake, and
// loads them again when they changed; Reload loads them whether or not
// they seem to have; a pair that cannot be loaded is logged and the last
// good one kept.
func TestFilesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := certtest.NewCA(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	write := func(serial int64) {
		c, k := ca.Issue(t, serial, "localhost")
		certtest.WriteFile(t, keyFile, k)
		certtest.WriteFile(t, certFile, c)
	}
	write(1)
	now := time.Now()
	var logs logtest.Buffer
	f, err := certificate.LoadFiles(certificate.FilesConfig{CertFile: certFile, KeyFile: keyFile, CheckEvery: time.Minute,
		NowFunc: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	served := func() int64 {
		t.Helper()
		c, err := f.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	if got := served(); got != 1 {
		t.Fatalf("serial %d served, want 1", got)
	}

	write(2)
	if got := served(); got != 1 {
		t.Errorf("within CheckEvery of the last look, serial %d served; want 1 still", got)
	}
	now = now.Add(time.Minute)
	if got := served(); got != 2 {
		t.Errorf("a minute on, serial %d served; want the rewritten 2", got)
	}

	// A certificate without its key: logged, and the old pair kept.
	c3, _ := ca.Issue(t, 3, "localhost")
	certtest.WriteFile(t, certFile, c3)
	now = now.Add(time.Minute)
	if got := served(); got != 2 {
		t.Errorf("after a mismatched pair, serial %d served; want 2 still", got)
	}
	if !strings.Contains(logs.String(), "the new certificate cannot be loaded") {
		t.Errorf("the mismatched pair was not logged: %s", logs.String())
	}
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("Reload of a mismatched pair: %v", err)
	}

	// Rewritten in place with the modification times put back and the
	// same sizes: a look cannot tell, Reload can.
	ci, _ := os.Stat(certFile)
	ki, _ := os.Stat(keyFile)
	for try := 0; ; try++ {
		if try == 1000 {
			t.Fatal("no new pair of the same sizes in 1000 tries")
		}
		c, k := ca.Issue(t, 4, "localhost")
		if len(c) == int(ci.Size()) && len(k) == int(ki.Size()) {
			// In place: the same files, rewritten.
			if os.WriteFile(keyFile, k, 0o600) != nil || os.WriteFile(certFile, c, 0o600) != nil {
				t.Fatal("rewriting the pair failed")
			}
			break
		}
	}
	os.Chtimes(certFile, ci.ModTime(), ci.ModTime())
	os.Chtimes(keyFile, ki.ModTime(), ki.ModTime())
	now = now.Add(time.Minute)
	if got := served(); got != 2 {
		t.Errorf("files that look unchanged were loaded again (serial %d)", got)
	}
	if err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(); got != 4 {
		t.Errorf("after Reload, serial %d served; want 4", got)
	}
}

// A pair that cannot be loaded at the start is an error.
func TestLoadFilesRefusesABadPair(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := certtest.NewCA(t)
	c, _ := ca.Issue(t, 1, "localhost")
	_, k := ca.Issue(t, 2, "localhost")
	certtest.WriteFile(t, filepath.Join(dir, "cert.pem"), c)
	certtest.WriteFile(t, filepath.Join(dir, "key.pem"), k)
	_, err := certificate.LoadFiles(certificate.FilesConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")})
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
		t.Errorf("LoadFiles of a mismatched pair: %v", err)
	}
}
