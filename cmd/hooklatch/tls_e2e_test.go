package main_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/certificate/certtest"
	"github.com/hooklatch/hooklatch/internal/logtest"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// tlsServe is a running `hooklatch serve` whose logs are read while it
// runs.
type tlsServe struct {
	cmd  *exec.Cmd
	logs *logtest.Buffer
	done chan struct{} // closed once it has exited, with err
	err  error
}

// stop ends it with SIGTERM and returns how it exited.
func (s *tlsServe) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	return s.err
}

// startTLSServe starts `hooklatch serve` with args and waits until it
// answers healthz to client.
func startTLSServe(t *testing.T, secret, storePath string, client *http.Client, healthz string, args ...string) *tlsServe {
	t.Helper()
	args = append([]string{"serve", "--store", storePath, "--admin-addr", "off", "--log-format", "json", "--log-level", "info"}, args...)
	s := &tlsServe{cmd: exec.Command(binary, args...), logs: &logtest.Buffer{}, done: make(chan struct{})}
	s.cmd.Env = append(os.Environ(), "SENT_WEBHOOK_SECRET="+secret)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(healthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("answered %d", resp.StatusCode)
		}
		select {
		case <-s.done:
			t.Fatalf("hooklatch serve exited (%v) before answering %s\n%s", s.err, healthz, s.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hooklatch serve did not answer %s: %v\n%s", healthz, err, s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servedCertificate is the leaf a new TLS connection to addr is given for
// serverName; the client verifies it against roots.
func servedCertificate(t *testing.T, addr, serverName string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS connection to %s for %s: %v", addr, serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// waitForSerial polls new connections until the served certificate has
// the serial number want.
func waitForSerial(t *testing.T, addr string, roots *x509.CertPool, want int64, logs *logtest.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := servedCertificate(t, addr, "127.0.0.1", roots).SerialNumber.Int64()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still served the certificate with serial %d, want %d\n%s", got, want, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func storedEvent(t *testing.T, storePath, id string) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), storePath, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetEvent(context.Background(), id); err != nil {
		t.Fatalf("event %s answered 2xx is not in the store: %v", id, err)
	}
}

// serve --tls-cert/--tls-key speaks HTTPS (TLS 1.2 or later, HTTP/1.1);
// a certificate rotated in place is served to new connections without a
// restart, and so is one SIGHUP asks for; a bad new pair is logged and the
// old one kept; --http-redirect-addr sends browsers to HTTPS and refuses
// a webhook posted over plain HTTP.
func TestServeHTTPSWithRotatedCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary")
	}
	dir := t.TempDir()
	ca := certtest.NewCA(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// Every pair is padded to the same sizes, so that only a modification
	// time tells one from another (see the SIGHUP step).
	write := func(serial int64) {
		c, k := ca.Issue(t, serial, "127.0.0.1", "localhost")
		certtest.WriteFile(t, keyFile, pad(k, 1024))
		certtest.WriteFile(t, certFile, pad(c, 2048))
	}
	// rewrite writes the pair into the same files, so that nothing but
	// their contents changes once their times are put back.
	rewrite := func(serial int64) {
		c, k := ca.Issue(t, serial, "127.0.0.1", "localhost")
		if os.WriteFile(keyFile, pad(k, 1024), 0o600) != nil || os.WriteFile(certFile, pad(c, 2048), 0o600) != nil {
			t.Fatal("rewriting the pair failed")
		}
	}
	write(1)

	rawSecret, secret := newSecret(t)
	storePath := filepath.Join(dir, "hooklatch.db")
	addr, redirectAddr, adminAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	srv := startTLSServe(t, rawSecret, storePath, client, "https://"+addr+"/healthz",
		"--addr", addr, "--tls-cert", certFile, "--tls-key", keyFile, "--http-redirect-addr", redirectAddr,
		"--admin-addr", adminAddr, "--admin-tls")

	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("answered over %s, TLS %+v; want HTTP/1.1 over TLS 1.2 or later", resp.Proto, resp.TLS)
	}
	old := &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11}
	if conn, err := tls.Dial("tcp", addr, old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 client was served; want TLS 1.2 or later only")
	}
	if a, ok := post(client, "https://"+addr+"/webhooks/sent", secret, "evt_https_1"); !ok {
		t.Fatalf("a signed webhook over HTTPS was not answered 2xx\n%s", srv.logs.String())
	} else {
		storedEvent(t, storePath, a.EventID)
	}

	// --admin-tls: the admin listener has the same certificate.
	if resp, err := client.Get("https://" + adminAddr + "/healthz"); err != nil {
		t.Errorf("admin /healthz over HTTPS: %v", err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusOK {
		t.Errorf("admin /healthz over HTTPS: %d", resp.StatusCode)
	}

	// The plain HTTP listener redirects browsers, and refuses webhooks.
	resp, err = client.Get("http://" + redirectAddr + "/healthz?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, port, _ := net.SplitHostPort(addr)
	if want := "https://" + net.JoinHostPort("127.0.0.1", port) + "/healthz?x=1"; resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Errorf("GET over plain HTTP: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if _, ok := post(client, "http://"+redirectAddr+"/webhooks/sent", secret, "evt_plain"); ok {
		t.Error("a webhook posted over plain HTTP was answered 2xx")
	}

	// Rotated in place: a new connection gets the new certificate.
	write(2)
	waitForSerial(t, addr, ca.Pool(), 2, srv.logs)

	// Rewritten in place with the modification times put back: only
	// SIGHUP shows it.
	certInfo, _ := os.Stat(certFile)
	keyInfo, _ := os.Stat(keyFile)
	rewrite(3)
	os.Chtimes(certFile, certInfo.ModTime(), certInfo.ModTime())
	os.Chtimes(keyFile, keyInfo.ModTime(), keyInfo.ModTime())
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForSerial(t, addr, ca.Pool(), 3, srv.logs)

	// A certificate whose key is not the new key's: logged, the old kept.
	c4, _ := ca.Issue(t, 4, "127.0.0.1")
	certtest.WriteFile(t, certFile, pad(c4, 2048))
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.logs.String(), "the new certificate cannot be loaded") {
		if time.Now().After(deadline) {
			t.Fatalf("a mismatched pair was not logged\n%s", srv.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := servedCertificate(t, addr, "127.0.0.1", ca.Pool()).SerialNumber.Int64(); got != 3 {
		t.Errorf("after a bad pair, serial %d was served; want the previous, 3", got)
	}
	if a, ok := post(client, "https://"+addr+"/webhooks/sent", secret, "evt_https_2"); !ok {
		t.Fatalf("a webhook after the bad pair was not answered 2xx\n%s", srv.logs.String())
	} else {
		storedEvent(t, storePath, a.EventID)
	}
}

// pad fills pem out to size with newlines, which a PEM reader skips.
func pad(pem []byte, size int) []byte {
	if len(pem) > size {
		panic("pad: PEM larger than the size")
	}
	return append(pem, []byte(strings.Repeat("\n", size-len(pem)))...)
}

// pebble is Pebble, Let's Encrypt's ACME test server, with its DNS
// companion, built once from the module's tool dependencies.
var pebble struct {
	once     sync.Once
	dir, err string
}

func buildPebble(t *testing.T) string {
	t.Helper()
	pebble.once.Do(func() {
		dir, err := os.MkdirTemp("", "hooklatch-pebble-")
		if err != nil {
			pebble.err = err.Error()
			return
		}
		build := exec.Command("go", "build", "-o", dir+"/", "github.com/letsencrypt/pebble/v2/cmd/pebble", "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv")
		if out, err := build.CombinedOutput(); err != nil {
			pebble.err = fmt.Sprintf("building Pebble: %v\n%s", err, out)
			return
		}
		pebble.dir = dir
	})
	if pebble.err != "" {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s\nHOOKLATCH_REQUIRE_SERVICES=1 requires Pebble", pebble.err)
		}
		t.Skip(pebble.err)
	}
	return pebble.dir
}

// startProcess runs a helper server for the test, its output in a buffer,
// and stops it at the end.
func startProcess(t *testing.T, env []string, name string, args ...string) *logtest.Buffer {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &logtest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if os.Getenv("HOOKLATCH_REQUIRE_SERVICES") == "1" {
			t.Fatalf("starting %s: %v", name, err)
		}
		t.Skipf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return out
}

// serve --tls-domain obtains a certificate from a real ACME CA, Pebble,
// which validates the domain by connecting back to serve's HTTPS listener
// (TLS-ALPN-01) after resolving the name through its DNS companion; the
// certificate is served and webhooks are stored. A restart serves the
// cached certificate, with no new order.
func TestServeACMECertificateFromPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("drives the built binary and Pebble")
	}
	const domain = "hooks.example.com"
	bin := buildPebble(t)
	dir := t.TempDir()

	// Pebble's own HTTPS API has a certificate from a CA of the test's.
	apiCA := certtest.NewCA(t)
	apiCert, apiKey := apiCA.Issue(t, 10, "127.0.0.1", "localhost")
	caFile := filepath.Join(dir, "pebble-api-ca.pem")
	for name, data := range map[string][]byte{"api-cert.pem": apiCert, "api-key.pem": apiKey, "pebble-api-ca.pem": apiCA.PEM} {
		certtest.WriteFile(t, filepath.Join(dir, name), data)
	}
	// Six ports for three processes: one taken twice makes one of them
	// fail to listen, and another answer in its place.
	addrs := freeAddrs(t, 6)
	addr, redirectAddr := addrs[0], addrs[1]
	_, tlsPort, _ := net.SplitHostPort(addr)
	_, httpPort, _ := net.SplitHostPort(redirectAddr)
	pebbleAddr, pebbleMgmt, dnsAddr, dnsMgmt := addrs[2], addrs[3], addrs[4], addrs[5]
	config := fmt.Sprintf(`{"pebble": {"listenAddress": %q, "managementListenAddress": %q,
		"certificate": %q, "privateKey": %q, "httpPort": %s, "tlsPort": %s,
		"ocspResponderURL": "", "externalAccountBindingRequired": false}}`,
		pebbleAddr, pebbleMgmt, filepath.Join(dir, "api-cert.pem"), filepath.Join(dir, "api-key.pem"), httpPort, tlsPort)
	certtest.WriteFile(t, filepath.Join(dir, "pebble.json"), []byte(config))

	// Every name resolves to 127.0.0.1, and to no IPv6 address.
	startProcess(t, nil, filepath.Join(bin, "pebble-challtestsrv"), "-dnsserver", dnsAddr, "-management", dnsMgmt,
		"-http01=", "-https01=", "-tlsalpn01=", "-doh=", "-defaultIPv4", "127.0.0.1", "-defaultIPv6=")
	pebbleLog := startProcess(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"},
		filepath.Join(bin, "pebble"), "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", dnsAddr)

	api := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: apiCA.ClientConfig()}}
	var rootPEM []byte
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := api.Get("https://" + pebbleMgmt + "/roots/0")
		if err == nil {
			rootPEM, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pebble did not answer: %v\n%s", err, pebbleLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("Pebble's root is not PEM: %q", rootPEM)
	}

	// The client asks for the domain, and reaches serve on loopback.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	url := "https://" + net.JoinHostPort(domain, tlsPort)
	rawSecret, secret := newSecret(t)
	storePath := filepath.Join(dir, "state", "hooklatch.db")
	os.MkdirAll(filepath.Dir(storePath), 0o700)
	args := []string{"--addr", addr, "--tls-domain", domain, "--acme-directory", "https://" + pebbleAddr + "/dir",
		"--acme-ca-root", caFile, "--http-redirect-addr", redirectAddr}
	srv := startTLSServe(t, rawSecret, storePath, client, url+"/healthz", args...)

	leaf := servedCertificate(t, addr, domain, roots)
	if !slices.Contains(leaf.DNSNames, domain) || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("served a certificate for %v issued by %q; want one for %s from Pebble", leaf.DNSNames, leaf.Issuer, domain)
	}
	if a, ok := post(client, url+"/webhooks/sent", secret, "evt_acme_1"); !ok {
		t.Fatalf("a signed webhook over HTTPS was not answered 2xx\n%s", srv.logs.String())
	} else {
		storedEvent(t, storePath, a.EventID)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "acme", domain)); err != nil {
		t.Errorf("the certificate is not cached next to the store: %v", err)
	}

	// Restarted, serve serves the cached certificate: no new order.
	if err := srv.stop(); err != nil {
		t.Fatalf("serve exited with %v\n%s", err, srv.logs.String())
	}
	orders := strings.Count(pebbleLog.String(), "Issued certificate serial")
	startTLSServe(t, rawSecret, storePath, client, url+"/healthz", args...)
	again := servedCertificate(t, addr, domain, roots)
	if again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("after a restart, serial %x was served; want the cached %x", again.SerialNumber, leaf.SerialNumber)
	}
	if a, ok := post(client, url+"/webhooks/sent", secret, "evt_acme_2"); !ok {
		t.Fatal("a signed webhook after the restart was not answered 2xx")
	} else {
		storedEvent(t, storePath, a.EventID)
	}
	if n := strings.Count(pebbleLog.String(), "Issued certificate serial"); n != orders || orders != 1 {
		t.Errorf("Pebble issued %d certificates before the restart and %d in all; want 1 and 1\n%s", orders, n, pebbleLog.String())
	}
}
