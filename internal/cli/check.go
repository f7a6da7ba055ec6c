package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/signature"
)

// CheckOptions are the settings of `hooklatch check`.
type CheckOptions struct {
	URL      string
	Secret   signature.Secret
	Schemes  []signature.Scheme // the schemes the handler must accept
	Deadline time.Duration
	Timeout  time.Duration
	Burst    int
	Only     []string // case names; all when empty
	JUnit    string   // write a JUnit XML report to this file
}

func newCheckCommand(env Env) *cobra.Command {
	var (
		opts   CheckOptions
		scheme string
	)
	cmd := &cobra.Command{
		Use:   "check URL",
		Short: "Grade a webhook handler against Sent's delivery contract",
		Long: `check sends your webhook handler what Sent sends, and what an attacker would,
and grades each answer:

  accepts-v1, accepts-legacy   a valid event: 2xx within --deadline (WARN over 1 s)
  rejects-bad-signature        signed with another secret: 4xx (401)
  rejects-missing-signature    no signature headers: 4xx
  rejects-tampered-body        a value changed after signing: 4xx
  rejects-stale-timestamp      v1, signed 10 minutes ago: 4xx
  rejects-reserialised-json    a pretty-printed body signed over a re-serialised
                               form (compact, Python's json.dumps, sorted keys): 4xx
  duplicate                    a retry of an acknowledged event: 2xx
  unknown-type                 a signed event of a type nobody knows yet: 2xx
  large-body                   a 256 KiB event: 2xx
  burst                        --burst concurrent events: all 2xx within --deadline
  out-of-order                 one message's DELIVERED, QUEUED, READ, SENT: all 2xx,
                               the late QUEUED and SENT too; names the message, since
                               answers cannot show whether the app ends on READ

Each case prints PASS, FAIL or WARN with a reason, and advice for what failed.
The exit status is 1 when a case failed, 3 when the handler cannot be reached.`,
		Example: `  hooklatch check http://localhost:8080/webhooks/sent
  hooklatch check http://localhost:8080/hook --scheme legacy --junit check.xml
  hooklatch check http://localhost:8080/hook --only duplicate,out-of-order`,
		Args: func(_ *cobra.Command, a []string) error {
			if len(a) != 1 {
				return usageError("name the one URL where your handler takes webhooks, e.g. hooklatch check http://localhost:8080/webhooks/sent")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			u, err := url.Parse(a[0])
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return usageError("URL %q: want an http:// or https:// URL", a[0])
			}
			opts.URL = a[0]
			switch strings.ToLower(strings.TrimSpace(scheme)) {
			case "both":
				opts.Schemes = []signature.Scheme{signature.V1, signature.Legacy}
			default:
				s, err := parseScheme(scheme)
				if err != nil {
					return usageError("--scheme: %v, or both", err)
				}
				opts.Schemes = []signature.Scheme{s}
			}
			if opts.Deadline <= 0 || opts.Timeout <= 0 {
				return usageError("--deadline and --timeout must be positive")
			}
			if opts.Burst < 1 {
				return usageError("--burst must be at least 1")
			}
			secrets, err := secretsFrom(cmd.Flags(), env.Getenv)
			if err != nil {
				return err
			}
			opts.Secret = secrets[0]
			return RunCheck(cmd.Context(), env.Stdout, opts)
		},
	}
	f := cmd.Flags()
	addSecretFlags(cmd)
	f.StringVar(&scheme, "scheme", "both", "signature scheme: v1, legacy or both (the acceptance case runs for each; the others use v1 unless only legacy)")
	f.DurationVar(&opts.Deadline, "deadline", devtools.DefaultCheckDeadline, "how fast a valid event must be acknowledged, as Sent requires")
	f.DurationVar(&opts.Timeout, "timeout", devtools.DefaultCheckTimeout, "how long to wait for each answer")
	f.IntVar(&opts.Burst, "burst", devtools.DefaultCheckBurst, "concurrent deliveries in the burst case")
	f.StringVar(&opts.JUnit, "junit", "", "write a JUnit XML report to this file")
	f.StringSliceVar(&opts.Only, "only", nil, "run only these cases, comma-separated")
	return cmd
}

// RunCheck grades the handler at opts.URL, printing each case as it is
// graded and a summary, and writes the JUnit report when asked.
func RunCheck(ctx context.Context, w io.Writer, opts CheckOptions) error {
	c := &devtools.Check{
		URL:       opts.URL,
		Secret:    opts.Secret,
		Schemes:   opts.Schemes,
		Deadline:  opts.Deadline,
		Timeout:   opts.Timeout,
		Burst:     opts.Burst,
		Only:      opts.Only,
		UserAgent: userAgent(),
		OnResult:  func(res devtools.Result) { devtools.WriteResult(w, res) },
	}
	report, err := c.Run(ctx)
	switch {
	case errors.Is(err, devtools.ErrCheckConfig):
		return usageError("%v", err)
	case err != nil:
		return err
	}
	fmt.Fprintln(w, report.Summary())
	if opts.JUnit != "" {
		var b bytes.Buffer
		if err := devtools.WriteJUnit(&b, report); err != nil {
			return err
		}
		if err := os.WriteFile(opts.JUnit, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if !report.OK() {
		return failed(fmt.Errorf("%s failed: %s", report.URL, strings.Join(report.Failed(), ", ")))
	}
	return nil
}
