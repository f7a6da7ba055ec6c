package certificate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncrypt is the ACME directory NewACME uses by default.
const LetsEncrypt = autocert.DefaultACMEDirectory

// ACMEConfig configures NewACME.
type ACMEConfig struct {
	// Domains are the names certificates are obtained for; a handshake for
	// any other name is refused. Required.
	Domains []string
	// DirectoryURL is the ACME CA's directory. Defaults to LetsEncrypt.
	DirectoryURL string
	// Email is given to the CA for notices about the account. Defaults to
	// none.
	Email string
	// CacheDir keeps the account key and the certificates, so that a
	// restart does not ask the CA again. Required.
	CacheDir string
	// CARootFile, when set, is a PEM file of CA certificates trusted for
	// the directory's HTTPS besides the system's (a private CA's root).
	// Defaults to the system's roots alone.
	CARootFile string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ACME obtains certificates from an ACME CA when they are first asked for
// (or by Prepare), keeps them in a cache directory and renews them before
// they expire. It answers the CA's TLS-ALPN-01 challenges on the HTTPS
// listener itself, and its HTTPHandler the HTTP-01 ones.
type ACME struct {
	manager *autocert.Manager
	domains []string
	logger  *slog.Logger
}

// NewACME checks the configuration and makes the cache directory; it asks
// the CA nothing yet.
func NewACME(cfg ACMEConfig) (*ACME, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("--tls-domain: give the domain names to obtain certificates for")
	}
	for _, d := range cfg.Domains {
		if d == "" || strings.ContainsAny(d, ":/ *") || strings.HasSuffix(d, ".") {
			return nil, fmt.Errorf("--tls-domain %q: want a domain name such as hooks.example.com", d)
		}
	}
	if cfg.DirectoryURL == "" {
		cfg.DirectoryURL = LetsEncrypt
	}
	if !strings.HasPrefix(cfg.DirectoryURL, "https://") {
		return nil, fmt.Errorf("--acme-directory %q: want the https:// URL of the CA's directory", cfg.DirectoryURL)
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("--acme-cache: give the directory where certificates are kept")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("--acme-cache: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CARootFile != "" {
		pool, err := rootsWith(cfg.CARootFile)
		if err != nil {
			return nil, err
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cfg.CacheDir),
		HostPolicy: autocert.HostWhitelist(cfg.Domains...),
		Email:      cfg.Email,
		Client: &acme.Client{
			DirectoryURL: cfg.DirectoryURL,
			HTTPClient:   &http.Client{Transport: transport, Timeout: time.Minute},
			UserAgent:    "hooklatch",
		},
	}
	return &ACME{manager: m, domains: cfg.Domains, logger: cfg.Logger}, nil
}

// rootsWith is the system's roots and the certificates of file.
func rootsWith(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-root: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// GetCertificate is the tls.Config's: the domain's certificate from
// memory or the cache, obtained from the CA when there is none; and the
// CA's TLS-ALPN-01 challenge certificates.
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.manager.GetCertificate(hello)
}

// NextProtos are the ALPN protocols the listener must offer besides
// HTTP's, for the CA's TLS-ALPN-01 challenges.
func (a *ACME) NextProtos() []string { return []string{acme.ALPNProto} }

// HTTPHandler answers the CA's HTTP-01 challenges, and hands every other
// request to fallback.
func (a *ACME) HTTPHandler(fallback http.Handler) http.Handler {
	return a.manager.HTTPHandler(fallback)
}

// Prepare gets each domain's certificate ready, from the cache or the CA,
// so that the first webhook does not wait for it, and logs the outcome.
// The listener must already be serving: the CA connects back to it. A
// failure is retried on the next handshake for the domain.
func (a *ACME) Prepare(ctx context.Context) {
	for _, d := range a.domains {
		if ctx.Err() != nil {
			return
		}
		// A hello as a modern client sends it, for the ECDSA certificate
		// (one without these gets the RSA certificate instead).
		cert, err := a.manager.GetCertificate(&tls.ClientHelloInfo{
			ServerName:       d,
			CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SupportedCurves:  []tls.CurveID{tls.CurveP256},
			SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		})
		if err != nil {
			a.logger.Error("no certificate for the domain yet: the next handshake for it tries again", "domain", d, "err", err)
			continue
		}
		a.logger.Info("certificate ready", "domain", d, "issuer", cert.Leaf.Issuer.String(),
			"serial", serial(cert.Leaf), "not_after", cert.Leaf.NotAfter)
	}
}
