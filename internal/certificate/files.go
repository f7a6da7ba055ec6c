// Package certificate gives serve's HTTPS listener its certificates: a
// pair of PEM files, reloaded when they change (Files), or certificates
// obtained and renewed from an ACME CA such as Let's Encrypt (NewACME).
// Both are a tls.Config's GetCertificate.
package certificate

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckEvery is how often, at most, Files looks at its files.
const DefaultCheckEvery = 5 * time.Second

// FilesConfig configures Files.
type FilesConfig struct {
	// CertFile holds the certificate in PEM, leaf first, then any
	// intermediates. Required.
	CertFile string
	// KeyFile holds the certificate's private key in PEM. Required.
	KeyFile string
	// CheckEvery is how often, at most, a handshake looks at the files
	// (which file the name leads to, its size and modification time), and
	// reloads them when either changed.
	// Defaults to DefaultCheckEvery.
	CheckEvery time.Duration
	// NowFunc defaults to time.Now.
	NowFunc func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Files serves a certificate read from a pair of PEM files. It reloads the
// pair when the files change (looking at most every CheckEvery, on a
// handshake) and when Reload is called; a new pair that cannot be loaded is
// logged, and the last good one goes on being served.
type Files struct {
	cfg FilesConfig

	mu      sync.Mutex
	cert    *tls.Certificate
	seen    stamp // the files as last looked at
	checked time.Time
}

// stamp is what a look at the files sees: a change to either (another
// file renamed over it, another size or modification time) is a reason to
// load them again.
type stamp struct {
	cert, key os.FileInfo
	err       string // why the files could not be looked at
}

func (s stamp) same(o stamp) bool {
	return s.err == o.err && sameFile(s.cert, o.cert) && sameFile(s.key, o.key)
}

func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// LoadFiles loads the pair: a pair that cannot be loaded at the start is
// an error.
func LoadFiles(cfg FilesConfig) (*Files, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, fmt.Errorf("a certificate needs both files: --tls-cert and --tls-key")
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = DefaultCheckEvery
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	f := &Files{cfg: cfg}
	f.seen = f.look()
	cert, err := f.load()
	if err != nil {
		return nil, err
	}
	f.cert, f.checked = cert, cfg.NowFunc()
	return f, nil
}

// GetCertificate is the tls.Config's: the current pair, loaded again
// first when the files changed since they were last looked at.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.cfg.NowFunc(); now.Sub(f.checked) >= f.cfg.CheckEvery {
		f.checked = now
		if s := f.look(); !s.same(f.seen) {
			f.seen = s
			f.reload("the files changed")
		}
	}
	return f.cert, nil
}

// Reload loads the files again whether or not they changed (on SIGHUP).
// When the new pair cannot be loaded, the old one is kept and the error
// returned.
func (f *Files) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen, f.checked = f.look(), f.cfg.NowFunc()
	return f.reload("asked to reload")
}

// reload loads the pair in place of the current one; f.mu is held.
func (f *Files) reload(why string) error {
	cert, err := f.load()
	if err != nil {
		f.cfg.Logger.Error("the new certificate cannot be loaded: the previous one is still served",
			"why", why, "err", err, "serial", serial(f.cert.Leaf), "not_after", f.cert.Leaf.NotAfter)
		return err
	}
	f.cert = cert
	f.cfg.Logger.Info("certificate loaded", "why", why, "cert", f.cfg.CertFile,
		"subject", cert.Leaf.Subject.String(), "dns_names", cert.Leaf.DNSNames,
		"serial", serial(cert.Leaf), "not_after", cert.Leaf.NotAfter)
	return nil
}

func (f *Files) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(f.cfg.CertFile, f.cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", f.cfg.CertFile, f.cfg.KeyFile, err)
	}
	return &cert, nil // LoadX509KeyPair fills Leaf
}

func (f *Files) look() stamp {
	ci, err := os.Stat(f.cfg.CertFile)
	if err != nil {
		return stamp{err: err.Error()}
	}
	ki, err := os.Stat(f.cfg.KeyFile)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{cert: ci, key: ki}
}

func serial(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("%x", c.SerialNumber)
}
