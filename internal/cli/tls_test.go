package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hooklatch/hooklatch/internal/certificate/certtest"
	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/logtest"
)

// Certificate settings that cannot work are refused with exit 2 and a
// message naming the setting, before anything listens.
func TestServeTLSUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := certtest.NewCA(t)
	certA, keyA := ca.Issue(t, 1, "localhost")
	_, keyB := ca.Issue(t, 2, "localhost")
	file := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		certtest.WriteFile(t, path, data)
		return path
	}
	cert, key, otherKey := file("cert.pem", certA), file("key.pem", keyA), file("other-key.pem", keyB)
	notPEM := file("not.pem", []byte("not a certificate\n"))
	missing := filepath.Join(dir, "missing.pem")

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing key file", []string{"--tls-cert", cert, "--tls-key", missing}, "missing.pem: no such file"},
		{"missing cert file", []string{"--tls-cert", missing, "--tls-key", key}, "missing.pem: no such file"},
		{"key of another certificate", []string{"--tls-cert", cert, "--tls-key", otherKey}, "private key does not match public key"},
		{"no certificate in the file", []string{"--tls-cert", notPEM, "--tls-key", key}, "failed to find any PEM data in certificate input"},
		{"cert without key", []string{"--tls-cert", cert}, "--tls-cert needs --tls-key"},
		{"key without cert", []string{"--tls-key", key}, "--tls-key needs --tls-cert"},
		{"domain and files", []string{"--tls-domain", "hooks.example.com", "--tls-cert", cert, "--tls-key", key}, "give one or the other"},
		{"domain with a URL", []string{"--tls-domain", "https://hooks.example.com"}, `--tls-domain "https://hooks.example.com"`},
		{"plain directory URL", []string{"--tls-domain", "hooks.example.com", "--acme-directory", "http://127.0.0.1:14000/dir"}, "--acme-directory"},
		{"missing CA root", []string{"--tls-domain", "hooks.example.com", "--acme-ca-root", missing}, "--acme-ca-root"},
		{"CA root not PEM", []string{"--tls-domain", "hooks.example.com", "--acme-ca-root", notPEM}, "no PEM certificate"},
		{"ACME settings without a domain", []string{"--acme-email", "ops@example.com"}, "go with --tls-domain"},
		{"ACME settings with files", []string{"--tls-cert", cert, "--tls-key", key, "--acme-directory", "https://ca.example/dir"}, "not with certificate files"},
		{"admin TLS without a certificate", []string{"--admin-tls"}, "--admin-tls"},
		{"redirect without TLS", []string{"--http-redirect-addr", "127.0.0.1:0"}, "--http-redirect-addr"},
		{"PostgreSQL store without a cache", []string{"--tls-domain", "hooks.example.com", "--store", "postgres://127.0.0.1:1/x"}, "--acme-cache"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--secret", v1Secret, "--addr", "127.0.0.1:0", "--admin-addr", "off",
				"--store", filepath.Join(t.TempDir(), "h.db"), "--acme-cache", ""}, c.args...)
			// Cancelled: a serve that wrongly starts stops at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut logtest.Buffer
			code := cli.Main(ctx, args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
			if code != cli.ExitUsage || !strings.Contains(errOut.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut.String(), cli.ExitUsage, c.want)
			}
		})
	}
}
