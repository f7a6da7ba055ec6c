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
	"github.com/hooklatch/hooklatch/source"
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
	// Provider, when set, grades a handler of another provider's webhooks,
	// signed as Source says (see devtools.Check.Provider).
	Provider string
	Source   source.Settings
}

func newCheckCommand(env Env) *cobra.Command {
	var (
		opts     CheckOptions
		scheme   string
		provider string
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
The exit status is 1 when a case failed, 3 when the handler cannot be reached.

--provider grades a handler of another provider's webhooks instead: its
samples (those of trigger --provider), signed as that provider signs them
with --secret (or $SENT_WEBHOOK_SECRET, else $HOOKLATCH_SOURCE_<PROVIDER>_SECRET).
Settings follow the provider's name as in serve's --source:
--provider twilio,public_url=https://… (the URL Twilio signs; default the
checked URL), --provider hmac,header=X-Signature,algorithm=sha512,… ; Meta's
verify token comes from $HOOKLATCH_SOURCE_META_VERIFY_TOKEN. The cases:

  accepts-<provider>           a valid sample: 2xx within --deadline (default the
                               provider's: 3 s for slack, 10 s for github, else 5 s)
  handshake                    slack: a signed url_verification answered with its
                               challenge; meta: the hub.challenge GET echoed with the
                               right verify token, refused with a wrong one; others SKIP
  rejects-bad-signature        signed with another secret: 4xx (401)
  rejects-missing-signature    the provider's signature headers removed: 4xx
  rejects-tampered-body        one digit changed after signing: 4xx
  rejects-stale-timestamp      signed 10 minutes ago: 4xx, where the provider signs a
                               timestamp (stripe, slack, standard-webhooks, hmac with
                               timestamp_header); SKIP for github, shopify, meta and
                               twilio, whose requests carry none: nothing in them
                               tells a replay from a first delivery
  rejects-reserialised-json    as above; SKIP for twilio, which posts a form
  duplicate                    the same event again, signed afresh: 2xx
  unknown-type                 an event type nobody knows yet (in the body, or in
                               X-GitHub-Event, X-Shopify-Topic): 2xx
  large-body                   a 256 KiB event: 2xx
  burst                        --burst concurrent events: all 2xx within --deadline

check sees answers only. It cannot tell whether the app acted twice on a
duplicate (make the work idempotent on the event's id), whether it stored what
it acknowledged, or whether a refusal was for the right reason: a handler that
refuses everything fails accepts-<provider>, which is why that case runs first.
There is no out-of-order case for other providers: it follows one Sent message's
statuses.`,
		Example: `  hooklatch check http://localhost:8080/webhooks/sent
  hooklatch check http://localhost:8080/hook --scheme legacy --junit check.xml
  hooklatch check http://localhost:8080/hook --only duplicate,out-of-order
  hooklatch check http://localhost:8080/webhooks/stripe --provider stripe --secret whsec_...
  HOOKLATCH_SOURCE_META_VERIFY_TOKEN=... hooklatch check https://app.test/wa --provider meta`,
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
			if provider != "" {
				sc, settings, err := providerSettings(provider, cmd.Flags(), env.Getenv)
				if err != nil {
					return err
				}
				if sc != nil {
					if cmd.Flags().Changed("scheme") {
						return usageError("--scheme is Sent's: %s signs one way", sc.Provider)
					}
					if !cmd.Flags().Changed("deadline") {
						opts.Deadline = 0 // the provider's
					} else if opts.Deadline <= 0 {
						return usageError("--deadline must be positive")
					}
					if opts.Timeout <= 0 {
						return usageError("--timeout must be positive")
					}
					if opts.Burst < 1 {
						return usageError("--burst must be at least 1")
					}
					opts.Provider, opts.Source = sc.Provider, settings
					return RunCheck(cmd.Context(), env.Stdout, opts)
				}
			}
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
	f.StringVar(&provider, "provider", "", "grade a handler of another provider's webhooks: "+strings.Join(source.Providers(), ", ")+", then settings as in serve's --source (twilio,public_url=…; hmac,header=…) (default sent)")
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
		Provider:  opts.Provider,
		Source:    opts.Source,
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
