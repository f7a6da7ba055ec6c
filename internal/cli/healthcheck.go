package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// HealthcheckOptions are healthcheck's settings.
type HealthcheckOptions struct {
	URL     string // the /healthz to ask
	Timeout time.Duration
}

func newHealthcheckCommand(env Env) *cobra.Command {
	var opts HealthcheckOptions
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a running serve's /healthz; exit 0 when it answers 200, 1 otherwise",
		Long: `healthcheck asks a running 'hooklatch serve' for /healthz on its admin
listener and exits 0 when it answers 200, 1 otherwise. It is for
orchestrators that run a command inside the container (Docker's and
Podman's HEALTHCHECK), where an image built from scratch has no curl.

Without --url it asks the admin listener that serve would open with the same
environment: --admin-addr, else $HOOKLATCH_ADMIN_ADDR, else 127.0.0.1:3001,
with an address that listens on every interface asked on loopback.`,
		Example: `  hooklatch healthcheck
  HOOKLATCH_ADMIN_ADDR=:9001 hooklatch healthcheck
  hooklatch healthcheck --url http://10.0.0.5:3001/healthz`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.URL == "" {
				u, err := healthzURL(setting(cmd.Flags(), "admin-addr", env.Getenv, "HOOKLATCH_ADMIN_ADDR"))
				if err != nil {
					return err
				}
				opts.URL = u
			}
			if opts.Timeout <= 0 {
				return usageError("--timeout %v: want a positive duration", opts.Timeout)
			}
			return RunHealthcheck(cmd.Context(), opts, env.Stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.URL, "url", "", "the URL to ask (default: /healthz on the admin listener, see above)")
	f.String("admin-addr", "127.0.0.1:3001", "the admin listener serve was given ($HOOKLATCH_ADMIN_ADDR)")
	f.DurationVar(&opts.Timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// healthzURL is /healthz on the admin listener at addr, asked on loopback
// when addr listens on every interface.
func healthzURL(addr string) (string, error) {
	if addr == "off" {
		return "", usageError("the admin listener is off (--admin-addr off): there is no /healthz to ask; give --url")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageError("--admin-addr %q: %v", addr, err)
	}
	switch ip := net.ParseIP(host); {
	case host == "":
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// RunHealthcheck asks opts.URL once and fails (exit 1) unless it answers
// 200 within opts.Timeout.
func RunHealthcheck(ctx context.Context, opts HealthcheckOptions, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, opts.URL, nil)
	if err != nil {
		return usageError("--url %q: %v", opts.URL, err)
	}
	req.Header.Set("User-Agent", userAgent())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return failed(fmt.Errorf("unhealthy: %v", err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return failed(fmt.Errorf("unhealthy: %s answered %s: %s", opts.URL, resp.Status, body))
	}
	_, err = fmt.Fprintf(out, "healthy: %s answered %s\n", opts.URL, resp.Status)
	return err
}
