package cli

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/destination"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/store"
)

// --forward-timeout bounds the http destination itself, not only the
// dispatcher's attempt: the destination's own default must not win.
func TestForwardTimeoutReachesTheDestination(t *testing.T) {
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer app.Close()
	defer close(release)

	route, err := forwardRoute(app.URL, "", "v1", "", 150*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if route.Policy.Timeout != 150*time.Millisecond {
		t.Errorf("policy timeout %s, want 150ms", route.Policy.Timeout)
	}
	err = route.Destination.Deliver(context.Background(), &destination.Delivery{ID: 1, Attempt: 1, Event: &store.Event{EventData: store.EventData{ID: "e", Body: []byte("{}")}}})
	if err == nil || !strings.Contains(err.Error(), "no answer within 150ms") {
		t.Errorf("Deliver to a hanging app: %v, want the 150ms timeout", err)
	}
}

// The WAL's bound is a setting like the others: flag, then environment,
// then config file, then the default.
func TestServeWALMax(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "hooklatch.yaml")
	if err := os.WriteFile(config, []byte("wal_max: 16MiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := []string{"--secret", "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="}
	for _, c := range []struct {
		name string
		args []string
		env  string // HOOKLATCH_WAL_MAX
		want int64
	}{
		{"default", nil, "", 64 << 20},
		{"config file", []string{"--config", config}, "", 16 << 20},
		{"environment beats the file", []string{"--config", config}, "8MiB", 8 << 20},
		{"flag beats the environment", []string{"--config", config, "--wal-max", "4MiB"}, "8MiB", 4 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := Env{Getenv: func(k string) string {
				if k == "HOOKLATCH_WAL_MAX" {
					return c.env
				}
				return ""
			}}
			cmd := newServeCommand(env)
			if err := cmd.ParseFlags(append(secret, c.args...)); err != nil {
				t.Fatal(err)
			}
			opts, err := resolveServe(cmd, env, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if got := opts.Server.StoreOptions.MaxWALBytes; got != c.want {
				t.Errorf("MaxWALBytes = %d, want %d", got, c.want)
			}
		})
	}
}

// The memory budget and the part of a rejected body kept are settings
// like the others: flag beats environment beats config file beats default.
func TestServeMemorySettings(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "hooklatch.yaml")
	if err := os.WriteFile(file, []byte("memory_budget: 32MiB\nrejection_body_max: 8KiB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		args         []string
		env          map[string]string
		budget, kept int64
	}{
		{"defaults", nil, nil, 0, 64 << 10},
		{"file", []string{"--config", file}, nil, 32 << 20, 8 << 10},
		{"environment", []string{"--config", file}, map[string]string{"HOOKLATCH_MEMORY_BUDGET": "16MiB", "HOOKLATCH_REJECTION_BODY_MAX": "4KiB"}, 16 << 20, 4 << 10},
		{"flags", []string{"--config", file, "--memory-budget", "8MiB", "--rejection-body-max", "2KiB"},
			map[string]string{"HOOKLATCH_MEMORY_BUDGET": "16MiB", "HOOKLATCH_REJECTION_BODY_MAX": "4KiB"}, 8 << 20, 2 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts, err := resolveServeArgs(t, c.args, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := opts.Server; got.MemoryBudgetBytes != c.budget || got.RejectionBodyMaxBytes != c.kept {
				t.Errorf("memory budget %d, rejection body kept %d; want %d, %d", got.MemoryBudgetBytes, got.RejectionBodyMaxBytes, c.budget, c.kept)
			}
		})
	}
}

// serve tunes the collector unless the Go runtime's own variables do:
// GOGC set leaves the target alone, GOMEMLIMIT set leaves the limit.
func TestServeGCSettings(t *testing.T) {
	t.Parallel()
	secret := []string{"--secret", "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="}
	for _, c := range []struct {
		name      string
		args      []string
		vars      map[string]string
		percent   int
		limit     int64
		wantError string
	}{
		{"default", nil, nil, 400, 128 << 20, ""},
		{"a larger budget raises the limit", []string{"--memory-budget", "256MiB"}, nil, 400, 320 << 20, ""},
		{"GOGC is the runtime's", nil, map[string]string{"GOGC": "100"}, 0, 0, ""},
		{"GOMEMLIMIT is the runtime's", nil, map[string]string{"GOMEMLIMIT": "1GiB"}, 400, 0, ""},
		{"the flag beats GOGC", []string{"--gc-percent", "200"}, map[string]string{"GOGC": "100"}, 200, 128 << 20, ""},
		{"environment", nil, map[string]string{"HOOKLATCH_GC_PERCENT": "800"}, 800, 128 << 20, ""},
		{"not a number", []string{"--gc-percent", "lots"}, nil, 0, 0, `--gc-percent "lots": want a whole number from 25 to 10000`},
		{"too small", []string{"--gc-percent", "5"}, nil, 0, 0, `--gc-percent "5"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env := Env{Getenv: func(k string) string { return c.vars[k] }}
			cmd := newServeCommand(env)
			if err := cmd.ParseFlags(append(secret, c.args...)); err != nil {
				t.Fatal(err)
			}
			opts, err := resolveServe(cmd, env, slog.New(slog.DiscardHandler))
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("err = %v, want one saying %s", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.GCPercent != c.percent || opts.MemoryLimit != c.limit {
				t.Errorf("gc percent %d, memory limit %d; want %d, %d", opts.GCPercent, opts.MemoryLimit, c.percent, c.limit)
			}
		})
	}
}

// The answer bound is a setting like the others: flag beats environment
// beats config file beats default.
func TestServeAnswerWithin(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "hooklatch.yaml")
	if err := os.WriteFile(file, []byte("answer_within: 3s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{nil, nil, 4 * time.Second},
		{[]string{"--config", file}, nil, 3 * time.Second},
		{[]string{"--config", file}, map[string]string{"HOOKLATCH_ANSWER_WITHIN": "2s"}, 2 * time.Second},
		{[]string{"--config", file, "--answer-within", "1500ms"}, map[string]string{"HOOKLATCH_ANSWER_WITHIN": "2s"}, 1500 * time.Millisecond},
	} {
		opts, err := resolveServeArgs(t, c.args, c.env)
		if err != nil {
			t.Fatal(err)
		}
		if opts.Server.AnswerWithin != c.want {
			t.Errorf("serve %v with %v: answer within %v, want %v", c.args, c.env, opts.Server.AnswerWithin, c.want)
		}
	}
}

// How long a dashboard session lasts is a setting like the others.
func TestServeAdminSessionTTL(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "hooklatch.yaml")
	if err := os.WriteFile(file, []byte("admin_session_ttl: 2h\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want time.Duration
		err  string
	}{
		{"default", nil, nil, 12 * time.Hour, ""},
		{"file", []string{"--config", file}, nil, 2 * time.Hour, ""},
		{"environment", []string{"--config", file}, map[string]string{"HOOKLATCH_ADMIN_SESSION_TTL": "30m"}, 30 * time.Minute, ""},
		{"flag", []string{"--config", file, "--admin-session-ttl", "1h"}, map[string]string{"HOOKLATCH_ADMIN_SESSION_TTL": "30m"}, time.Hour, ""},
		{"not a duration", []string{"--admin-session-ttl", "0"}, nil, 0, "--admin-session-ttl"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts, err := resolveServeArgs(t, c.args, c.env)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("%v, want an error naming %s", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := opts.Server.AdminSessionTTL; got != c.want {
				t.Errorf("session TTL %s, want %s", got, c.want)
			}
		})
	}
}

// resolveServeArgs resolves serve's settings from args and the variables
// vars, with a signing secret.
func resolveServeArgs(t *testing.T, args []string, vars map[string]string) (ServeOptions, error) {
	t.Helper()
	env := Env{Getenv: func(k string) string {
		if k == "SENT_WEBHOOK_SECRET" {
			return "whsec_c2VudC1maXh0dXJlLXNpZ25pbmcta2V5LTAxMjM0NTY="
		}
		return vars[k]
	}}
	cmd := newServeCommand(env)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	return resolveServe(cmd, env, slog.New(slog.DiscardHandler))
}

// The certificate settings are settings like the others: flag, then
// environment, then config file (keys with underscores); --tls-domain
// takes a list from each.
func TestServeTLSSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "hooklatch.yaml")
	if err := os.WriteFile(config, []byte(`tls_domain: [hooks.example.com, "b.example.com"]
acme_directory: https://ca.example/dir
acme_email: ops@example.com
acme_cache: /var/lib/hooklatch/acme
acme_ca_root: /etc/hooklatch/ca.pem
http_redirect_addr: ":80"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	files := filepath.Join(dir, "files.yaml")
	if err := os.WriteFile(files, []byte("tls_cert: /etc/hooklatch/cert.pem\ntls_key: /etc/hooklatch/key.pem\nadmin_tls: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	acme := server.TLSConfig{Domains: []string{"hooks.example.com", "b.example.com"}, ACMEDirectory: "https://ca.example/dir",
		ACMEEmail: "ops@example.com", ACMECache: "/var/lib/hooklatch/acme", ACMECARoot: "/etc/hooklatch/ca.pem", RedirectAddr: ":80"}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want server.TLSConfig
	}{
		{"default", nil, nil, server.TLSConfig{}},
		{"config file", []string{"--config", config}, nil, acme},
		{"files in the config file", []string{"--config", files}, nil, server.TLSConfig{CertFile: "/etc/hooklatch/cert.pem", KeyFile: "/etc/hooklatch/key.pem", Admin: true}},
		{"flag beats the file's admin_tls", []string{"--config", files, "--admin-tls=false"}, nil, server.TLSConfig{CertFile: "/etc/hooklatch/cert.pem", KeyFile: "/etc/hooklatch/key.pem"}},
		{"environment beats the file", []string{"--config", config},
			map[string]string{"HOOKLATCH_TLS_DOMAIN": "c.example.com, d.example.com", "HOOKLATCH_ACME_EMAIL": "x@example.com"},
			func() server.TLSConfig {
				c := acme
				c.Domains, c.ACMEEmail = []string{"c.example.com", "d.example.com"}, "x@example.com"
				return c
			}()},
		{"flags beat the environment", []string{"--config", config, "--tls-domain", "e.example.com,f.example.com", "--tls-domain", "g.example.com", "--acme-cache", "/srv/acme"},
			map[string]string{"HOOKLATCH_TLS_DOMAIN": "c.example.com"},
			func() server.TLSConfig {
				c := acme
				c.Domains, c.ACMECache = []string{"e.example.com", "f.example.com", "g.example.com"}, "/srv/acme"
				return c
			}()},
		{"files from the environment", nil, map[string]string{"HOOKLATCH_TLS_CERT": "/c.pem", "HOOKLATCH_TLS_KEY": "/k.pem", "HOOKLATCH_HTTP_REDIRECT_ADDR": ":8080", "HOOKLATCH_ADMIN_TLS": "1"},
			server.TLSConfig{CertFile: "/c.pem", KeyFile: "/k.pem", RedirectAddr: ":8080", Admin: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts, err := resolveServeArgs(t, c.args, c.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := opts.Server.TLS; !reflect.DeepEqual(got, c.want) {
				t.Errorf("TLS settings\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}
