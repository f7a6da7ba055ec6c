package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hooklatch/hooklatch/internal/devtools"
)

// SendOptions are the settings of `hooklatch send`, resolved.
type SendOptions struct {
	Scenario    devtools.Scenario
	Signer      devtools.Signer
	Profile     devtools.Profile
	Concurrency int
}

func newSendCommand(env Env) *cobra.Command {
	var (
		sc        devtools.Scenario
		step      devtools.Step
		lifecycle string
		file      string
		conc      int
	)
	cmd := &cobra.Command{
		Use:   "send [TYPE...] --to URL",
		Short: "Deliver events to a URL exactly as Sent does: retries, fresh signatures, chaos",
		Long: `send is a Sent emulator. It delivers events to your webhook handler the way Sent
does: signed, re-signed with a fresh timestamp on every retry (the event id stays
the same), retried on 5xx answers and timeouts, and printed as a timeline.

Two schedules: --profile reference (the development guide's: retries after 1, 2,
4, 8, 16, 32 and 64 s, 5 s timeout, then the event is marked failed) and
--profile current (--retries 1-5, about a minute apart and doubling, --timeout
5s-120s, every non-2xx retried, ten failed attempts in a row disable the
endpoint). --time-scale 60 runs the waits sixty times faster.

Chaos, to harden a handler: --duplicates N delivers each event again with the
same event id; --lifecycle QUEUED,SENT,DELIVERED,READ --shuffle sends one
message's statuses out of order; --tamper and --stale 6m first send a forged
copy that must be rejected with a 4xx; --slow 2s trickles each body.
--scenario FILE replays steps described in YAML.

The exit status is 1 when an event was not delivered or a forged copy was not
rejected.`,
		Example: `  hooklatch send message.delivered --to http://localhost:3000/webhooks/sent
  hooklatch send message.sent --profile current --retries 5 --time-scale 60 --to http://localhost:8080/hook
  hooklatch send --lifecycle QUEUED,SENT,DELIVERED,READ --shuffle --duplicates 1 --to http://localhost:8080/hook
  hooklatch send message.failed --tamper --stale 10m --to http://localhost:8080/hook
  hooklatch send --scenario chaos.yaml`,
		RunE: func(cmd *cobra.Command, a []string) error {
			f := cmd.Flags()
			if path, _ := f.GetString("scenario"); path != "" {
				if len(a) > 0 || file != "" || lifecycle != "" || stepFlagsChanged(f) {
					return usageError("--scenario describes the events; do not also name types, --file, --lifecycle or chaos flags")
				}
				loaded, err := devtools.LoadScenario(path)
				if err != nil {
					return usageError("--scenario: %v", err)
				}
				sc = overlayScenario(loaded, sc, f)
			} else {
				step.Events, step.File = a, file
				if lifecycle != "" {
					step.Lifecycle = strings.Split(lifecycle, ",")
				}
				if step.Count < 1 {
					return usageError("--count must be at least 1")
				}
				if len(a) == 0 && file == "" && lifecycle == "" {
					return usageError("name event types (see 'hooklatch trigger --list'), or pass --file, --lifecycle or --scenario")
				}
				sc.Steps = []devtools.Step{step}
			}
			opts, err := resolveSend(cmd, env, sc, conc)
			if err != nil {
				return err
			}
			return RunSend(cmd.Context(), env.Stdout, opts)
		},
	}
	f := cmd.Flags()
	addSecretFlags(cmd)
	f.StringVar(&sc.To, "to", "", "the webhook URL to deliver to")
	f.StringVar(&sc.Scheme, "scheme", "v1", "signature scheme: v1 or legacy")
	f.StringVar(&sc.Profile, "profile", "reference", "retry profile: reference or current")
	f.IntVar(&sc.Retries, "retries", 3, "with --profile current: retries after the first attempt, 1-5")
	f.DurationVar(&sc.Timeout, "timeout", 0, "how long one attempt may take (default 5s for reference, 30s for current)")
	f.Float64Var(&sc.TimeScale, "time-scale", 1, "run the waits between attempts this many times faster")
	f.Uint64Var(&sc.Seed, "seed", 0, "seed for --shuffle, to repeat an order (default random)")
	f.String("scenario", "", "YAML file of steps to deliver (see 'hooklatch send --help')")
	f.IntVar(&conc, "concurrency", 1, "deliveries in flight at once; 1 keeps the order of first attempts")

	f.StringVar(&file, "file", "", "deliver this body instead of a sample")
	f.StringArrayVar(&step.Set, "set", nil, "override a field, path=value (repeatable)")
	f.IntVar(&step.Count, "count", 1, "how many of each type (each a new event)")
	f.StringVar(&step.Envelope, "envelope", "", "envelope generation: gen1, gen2 or gen3")
	f.StringVar(&lifecycle, "lifecycle", "", "deliver one message's statuses, comma-separated, e.g. QUEUED,SENT,DELIVERED,READ")
	f.BoolVar(&step.Shuffle, "shuffle", false, "deliver the events in a shuffled order")
	f.IntVar(&step.Duplicates, "duplicates", 0, "deliver each event this many more times, same event id, fresh signature")
	f.BoolVar(&step.Tamper, "tamper", false, "first send each event with a tampered signature (must be rejected)")
	f.DurationVar(&step.Stale, "stale", 0, "first send each event signed this long ago, e.g. 6m (v1; must be rejected)")
	f.DurationVar(&step.Slow, "slow", 0, "spread sending each body over this long")
	return cmd
}

// stepFlags are the flags that describe a step; a scenario file replaces them.
var stepFlags = []string{"set", "count", "envelope", "shuffle", "duplicates", "tamper", "stale", "slow"}

func stepFlagsChanged(f *pflag.FlagSet) bool {
	for _, n := range stepFlags {
		if f.Changed(n) {
			return true
		}
	}
	return false
}

// overlayScenario gives flags that were set precedence over the file.
func overlayScenario(file, flags devtools.Scenario, f *pflag.FlagSet) devtools.Scenario {
	if f.Changed("to") || file.To == "" {
		file.To = flags.To
	}
	if f.Changed("scheme") || file.Scheme == "" {
		file.Scheme = flags.Scheme
	}
	if f.Changed("profile") || file.Profile == "" {
		file.Profile = flags.Profile
	}
	if f.Changed("retries") || file.Retries == 0 {
		file.Retries = flags.Retries
	}
	if f.Changed("timeout") || file.Timeout == 0 {
		file.Timeout = flags.Timeout
	}
	if f.Changed("time-scale") || file.TimeScale == 0 {
		file.TimeScale = flags.TimeScale
	}
	if f.Changed("seed") || file.Seed == 0 {
		file.Seed = flags.Seed
	}
	return file
}

func resolveSend(cmd *cobra.Command, env Env, sc devtools.Scenario, conc int) (SendOptions, error) {
	if sc.To == "" {
		return SendOptions{}, usageError("--to: name the webhook URL to deliver to, e.g. http://localhost:3000/webhooks/sent")
	}
	if !strings.HasPrefix(sc.To, "http://") && !strings.HasPrefix(sc.To, "https://") {
		return SendOptions{}, usageError("--to %q: want an http:// or https:// URL", sc.To)
	}
	scheme, err := parseScheme(sc.Scheme)
	if err != nil {
		return SendOptions{}, usageError("--scheme: %v", err)
	}
	if sc.TimeScale <= 0 {
		return SendOptions{}, usageError("--time-scale %g: want a positive factor, e.g. 60 to turn minutes into seconds", sc.TimeScale)
	}
	if conc < 1 {
		return SendOptions{}, usageError("--concurrency must be at least 1")
	}
	var profile devtools.Profile
	retriesSet := cmd.Flags().Changed("retries")
	switch sc.Profile {
	case "reference":
		if retriesSet {
			return SendOptions{}, usageError("--retries sets the current profile's retries; the reference profile always retries 7 times (add --profile current)")
		}
		profile = devtools.ReferenceProfile()
		if sc.Timeout != 0 {
			if sc.Timeout < 0 {
				return SendOptions{}, usageError("--timeout must be positive")
			}
			profile.Timeout = sc.Timeout
		}
	case "current":
		timeout := sc.Timeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		if profile, err = devtools.CurrentProfile(sc.Retries, timeout); err != nil {
			return SendOptions{}, usageError("--profile current: %v", err)
		}
	default:
		return SendOptions{}, usageError("--profile %q: want reference or current", sc.Profile)
	}
	secrets, err := secretsFrom(cmd.Flags(), env.Getenv)
	if err != nil {
		return SendOptions{}, err
	}
	return SendOptions{
		Scenario:    sc,
		Signer:      devtools.Signer{Scheme: scheme, Secret: secrets[0], WebhookID: uuid.NewString(), UserAgent: userAgent()}, // one endpoint: the same X-Webhook-Id on every request,
		Profile:     profile,
		Concurrency: conc,
	}, nil
}

// RunSend delivers the scenario and prints the timelines and a summary.
func RunSend(ctx context.Context, w io.Writer, opts SendOptions) error {
	e := &devtools.Emulator{
		URL:         opts.Scenario.To,
		Signer:      opts.Signer,
		Profile:     opts.Profile,
		TimeScale:   opts.Scenario.TimeScale,
		Concurrency: opts.Concurrency,
		Out:         w,
	}
	if seed := opts.Scenario.Seed; seed != 0 {
		e.Rand = rand.New(rand.NewPCG(seed, seed))
	}
	plan, err := e.Plan(opts.Scenario)
	if err != nil {
		return usageError("%w", err)
	}
	scale := ""
	if s := opts.Scenario.TimeScale; s != 1 {
		scale = fmt.Sprintf(", waits %g× faster", s)
	}
	fmt.Fprintf(w, "sending to %s with %s signatures; %s%s\n\n", opts.Scenario.To, opts.Signer.Scheme, opts.Profile, scale)
	ds, err := e.RunPlan(ctx, plan)
	fmt.Fprintln(w)
	fmt.Fprintln(w, devtools.Summary(ds))
	if e.Disabled() {
		fmt.Fprintf(w, "the endpoint was disabled after %d failed attempts in a row, as Sent does; nothing more was sent\n", opts.Profile.DisableAfter)
	}
	if err != nil {
		fmt.Fprintln(w, "interrupted: what was not sent is left out")
	}
	// Deliveries cut short by an interrupt are not the handler's failures.
	bad := 0
	for _, d := range ds {
		if !d.OK && d.Result != "interrupted" {
			bad++
		}
	}
	if bad > 0 {
		return failed(fmt.Errorf("%d of %s did not end as %s should", bad, devtools.Count(len(ds), "delivery", "deliveries"), devtools.Plural(bad, "it", "they")))
	}
	return nil
}
