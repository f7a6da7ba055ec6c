package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/hooklatch/hooklatch/internal/certificate"
	"github.com/hooklatch/hooklatch/internal/storeopen"
)

// TLSConfig makes the webhook listener speak HTTPS, with a certificate
// from files or from an ACME CA. It speaks HTTP/1.1 only (the receiver's
// answer to a slow body is closing its connection), TLS 1.2 or later, with
// Go's defaults otherwise.
type TLSConfig struct {
	// CertFile and KeyFile are a PEM certificate (leaf first, then any
	// intermediates) and its key, reloaded when they change and by
	// Server.ReloadCertificate. Defaults to none.
	CertFile, KeyFile string

	// Domains, instead of CertFile and KeyFile, obtain certificates for
	// these names from an ACME CA and renew them. Defaults to none.
	Domains []string
	// ACMEDirectory is the CA's directory URL. Defaults to Let's Encrypt's.
	ACMEDirectory string
	// ACMEEmail is given to the CA for notices. Defaults to none.
	ACMEEmail string
	// ACMECache keeps the account key and the certificates. Defaults to
	// the directory "acme" next to a SQLite store; required with a
	// PostgreSQL store.
	ACMECache string
	// ACMECARoot is a PEM file of CA certificates trusted, besides the
	// system's, for the CA directory's own HTTPS (a private CA's root).
	// Defaults to none.
	ACMECARoot string

	// Admin serves the admin listener over HTTPS too, with the same
	// certificate. Defaults to plain HTTP: the admin listener is meant for
	// loopback.
	Admin bool

	// RedirectAddr, when set, is a plain HTTP listener that sends GET and
	// HEAD requests to the same URL over HTTPS and, with Domains, answers
	// the CA's HTTP-01 challenges. Defaults to none.
	RedirectAddr string
}

func (c *TLSConfig) enabled() bool { return c.CertFile != "" || c.KeyFile != "" || len(c.Domains) > 0 }

// check validates the combination and applies the defaults; store is the
// server's store location.
func (c *TLSConfig) check(store string) error {
	files := c.CertFile != "" || c.KeyFile != ""
	switch {
	case files && len(c.Domains) > 0:
		return errors.New("--tls-domain obtains certificates from an ACME CA; --tls-cert and --tls-key serve your own: give one or the other")
	case c.CertFile != "" && c.KeyFile == "":
		return errors.New("--tls-cert needs --tls-key, the certificate's private key")
	case c.KeyFile != "" && c.CertFile == "":
		return errors.New("--tls-key needs --tls-cert, the certificate for the key")
	case !files && len(c.Domains) == 0:
		if c.ACMEDirectory != "" || c.ACMEEmail != "" || c.ACMECache != "" || c.ACMECARoot != "" {
			return errors.New("--acme-directory, --acme-email, --acme-cache and --acme-ca-root go with --tls-domain")
		}
		if c.RedirectAddr != "" {
			return errors.New("--http-redirect-addr redirects to HTTPS: give --tls-cert and --tls-key, or --tls-domain")
		}
		if c.Admin {
			return errors.New("--admin-tls serves the admin listener with the webhook listener's certificate: give --tls-cert and --tls-key, or --tls-domain")
		}
		return nil
	case files && (c.ACMEDirectory != "" || c.ACMEEmail != "" || c.ACMECache != "" || c.ACMECARoot != ""):
		return errors.New("--acme-directory, --acme-email, --acme-cache and --acme-ca-root go with --tls-domain, not with certificate files")
	}
	if len(c.Domains) > 0 && c.ACMECache == "" {
		if storeopen.IsPostgres(store) {
			return errors.New("--tls-domain with a PostgreSQL store: give --acme-cache, the directory where the certificates and the ACME account key are kept")
		}
		c.ACMECache = filepath.Join(filepath.Dir(store), "acme")
	}
	return nil
}

// certs gives the webhook listener its certificates: one of files and
// acme is set.
type certs struct {
	files  *certificate.Files
	acme   *certificate.ACME
	logger *slog.Logger
	port   string // the HTTPS listener's, once bound
}

// newCerts loads the certificate files or sets up the ACME client; nil
// for plain HTTP.
func newCerts(cfg TLSConfig, logger *slog.Logger) (*certs, error) {
	if !cfg.enabled() {
		return nil, nil
	}
	c := &certs{logger: logger}
	var err error
	if cfg.CertFile != "" {
		c.files, err = certificate.LoadFiles(certificate.FilesConfig{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, Logger: logger})
	} else {
		c.acme, err = certificate.NewACME(certificate.ACMEConfig{
			Domains: cfg.Domains, DirectoryURL: cfg.ACMEDirectory, Email: cfg.ACMEEmail,
			CacheDir: cfg.ACMECache, CARootFile: cfg.ACMECARoot, Logger: logger,
		})
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certs) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if c.files != nil {
		cfg.GetCertificate = c.files.GetCertificate
	} else {
		cfg.GetCertificate = c.acme.GetCertificate
		cfg.NextProtos = append(cfg.NextProtos, c.acme.NextProtos()...)
	}
	return cfg
}

// http1Only is the webhook listener's protocols.
func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// bound is told the HTTPS listener's address, before anything serves.
func (c *certs) bound(addr net.Addr) {
	_, c.port, _ = net.SplitHostPort(addr.String())
	if c.acme != nil && c.port != "443" {
		c.logger.Warn("the ACME CA validates a domain by connecting to its port 443 (or 80 with --http-redirect-addr :80): forward that port to this listener", "addr", addr.String())
	}
}

// started is told once the HTTPS listener serves; with an ACME CA, it
// gets the certificates ready in the background.
func (c *certs) started(ctx context.Context) {
	if c.acme != nil {
		go c.acme.Prepare(ctx)
	}
}

func (c *certs) reload() error {
	if c.files == nil {
		c.logger.Info("asked to reload certificates: those from the ACME CA renew by themselves")
		return nil
	}
	return c.files.Reload()
}

// redirectHandler sends GET and HEAD requests to HTTPS, refuses the others
// (a webhook posted over plain HTTP must not be silently re-sent), and
// answers the ACME CA's HTTP-01 challenges.
func (c *certs) redirectHandler() http.Handler {
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if c.port != "" && c.port != "443" {
			host = net.JoinHostPort(host, c.port)
		}
		target := "https://" + host + r.URL.RequestURI()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "this address speaks plain HTTP: send the request to "+target, http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	})
	if c.acme != nil {
		return c.acme.HTTPHandler(redirect)
	}
	return redirect
}

// quietHandshakes is the HTTPS listener's error log: a failed TLS
// handshake, which scanners, port checks and clients asking for another
// name cause all day on a public port, is logged at debug level; anything
// else as a warning.
func quietHandshakes(logger *slog.Logger) *log.Logger {
	return log.New(handshakeWriter{logger}, "", 0)
}

type handshakeWriter struct{ logger *slog.Logger }

func (w handshakeWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
	}
	w.logger.Log(context.Background(), level, msg)
	return len(p), nil
}
