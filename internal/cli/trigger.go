package cli

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/signature"
)

// TriggerOptions are the settings of `hooklatch trigger`.
type TriggerOptions struct {
	Types    []string
	File     string   // a body of your own instead of a sample
	Sets     []string // path=value overrides
	Scheme   signature.Scheme
	Secret   signature.Secret
	Envelope string // gen1, gen2 or gen3; default gen2 for v1, gen1 for legacy
	Count    int
	Print    bool
	Format   string // http or curl, with Print
	To       string
	Timeout  time.Duration
	// Provider, when set and not "sent", sends that provider's samples
	// (devtools.ProviderSamples) signed as it signs, with SecretText.
	Provider   string
	SecretText string
}

func newTriggerCommand(env Env) *cobra.Command {
	var (
		opts   TriggerOptions
		scheme string
		list   bool
	)
	cmd := &cobra.Command{
		Use:   "trigger TYPE...",
		Short: "Produce realistic, correctly signed sample events",
		Long: `trigger builds a realistic sample of each event TYPE (fresh ids, E.164
numbers, the current time), signs it as Sent would, and either prints the
request (--print) or sends it (--to URL) and prints the answer and its latency.
--list shows every type.`,
		Example: `  hooklatch trigger message.delivered --print
  hooklatch trigger message.failed --set payload.channel=whatsapp --print --format curl
  hooklatch trigger message.sent message.delivered --to http://localhost:3000/webhooks/sent
  hooklatch trigger --file body.json --scheme legacy --to http://localhost:8080/hook`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if list {
				if opts.Provider != "" && opts.Provider != sentProvider {
					return printProviderTypes(env.Stdout, opts.Provider)
				}
				return printTypes(env.Stdout)
			}
			var err error
			if opts.Scheme, err = parseScheme(scheme); err != nil {
				return usageError("--scheme: %v", err)
			}
			opts.Types = a
			if len(a) == 0 && opts.File == "" {
				return usageError("name at least one event type (see 'hooklatch trigger --list'), or pass --file")
			}
			if opts.Print == (opts.To != "") {
				return usageError("pass --print to print the request, or --to URL to send it")
			}
			if opts.To != "" {
				if opts.To, err = forwardURL("--to", opts.To); err != nil {
					return err
				}
			}
			if opts.Count < 1 {
				return usageError("--count must be at least 1")
			}
			if opts.Provider != "" && opts.Provider != sentProvider {
				texts := secretTexts(cmd.Flags(), env.Getenv)
				if len(texts) == 0 {
					return usageError("no signing secret: pass --secret or set SENT_WEBHOOK_SECRET to the %s secret", opts.Provider)
				}
				opts.SecretText = texts[0]
				return RunTrigger(cmd.Context(), env.Stdout, opts)
			}
			secrets, err := secretsFrom(cmd.Flags(), env.Getenv)
			if err != nil {
				return err
			}
			opts.Secret = secrets[0]
			return RunTrigger(cmd.Context(), env.Stdout, opts)
		},
	}
	f := cmd.Flags()
	addSecretFlags(cmd)
	f.StringVar(&scheme, "scheme", "v1", "signature scheme: v1 or legacy")
	f.StringVar(&opts.Envelope, "envelope", "", "envelope generation: gen1 (field messages, id), gen2 (sub_type) or gen3 (event); default gen2, gen1 with --scheme legacy")
	f.StringArrayVar(&opts.Sets, "set", nil, "override a field, path=value, e.g. payload.message_status=FAILED (repeatable)")
	f.StringVar(&opts.File, "file", "", "send this body instead of a sample")
	f.IntVar(&opts.Count, "count", 1, "how many of each (each a new sample; with --file the same body each time, which a receiver takes as duplicates)")
	f.BoolVar(&opts.Print, "print", false, "print the signed request instead of sending it")
	f.StringVar(&opts.Format, "format", "http", "with --print: http (a raw HTTP request) or curl")
	f.StringVar(&opts.To, "to", "", "send to this URL")
	f.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "with --to: how long to wait for each answer")
	f.BoolVar(&list, "list", false, "list the event types (with --provider, that provider's samples)")
	f.StringVar(&opts.Provider, "provider", "", "send another provider's samples, signed as it signs: stripe, github, shopify, slack, meta, twilio or standard-webhooks (default sent)")
	return cmd
}

func printTypes(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tFIELD\tDESCRIPTION")
	for _, t := range event.Types {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Field, t.Description)
	}
	return tw.Flush()
}

// triggered is one signed request ready to print or send.
type triggered struct {
	name   string
	header http.Header
	body   []byte
	url    string // where it goes, when not the URL given (Twilio's JSON bodies add bodySHA256)
}

func printProviderTypes(w io.Writer, provider string) error {
	types := devtools.ProviderSampleTypes(provider)
	if types == nil {
		_, err := devtools.ProviderSamples(provider, nil, 1, time.Now())
		return usageError("--provider: %v", err)
	}
	for _, t := range types {
		fmt.Fprintln(w, t)
	}
	return nil
}

// buildProviderTriggered makes opts.Provider's samples, signed as it signs
// for url (the URL Twilio signs).
func buildProviderTriggered(opts TriggerOptions, url string) ([]triggered, error) {
	if opts.File != "" || len(opts.Sets) > 0 || opts.Envelope != "" {
		return nil, usageError("--provider %s: --file, --set and --envelope are for Sent's events", opts.Provider)
	}
	now := time.Now()
	reqs, err := devtools.ProviderSamples(opts.Provider, opts.Types, opts.Count, now)
	if err != nil {
		return nil, usageError("%w", err)
	}
	out := make([]triggered, len(reqs))
	for i, r := range reqs {
		h, to, err := signAs(SignOptions{Provider: opts.Provider, SecretText: opts.SecretText, URL: url, Timestamp: now}, r.Body)
		if err != nil {
			return nil, err
		}
		for k, v := range r.Header {
			h.Set(k, v)
		}
		h.Set("User-Agent", userAgent())
		out[i] = triggered{name: r.Name, header: h, body: r.Body, url: to}
	}
	return out, nil
}

// buildTriggered makes the signed requests opts asks for.
func buildTriggered(opts TriggerOptions) ([]triggered, error) {
	reqs, err := devtools.Samples{
		Types:    opts.Types,
		File:     opts.File,
		Sets:     opts.Sets,
		Envelope: opts.Envelope,
		Legacy:   opts.Scheme == signature.Legacy,
		Count:    opts.Count,
	}.Build()
	if err != nil {
		return nil, usageError("%w", err)
	}
	signer := devtools.Signer{Scheme: opts.Scheme, Secret: opts.Secret, UserAgent: userAgent()}
	out := make([]triggered, len(reqs))
	for i, r := range reqs {
		out[i] = triggered{name: r.Name, header: signer.Header(r, time.Now()), body: r.Body}
	}
	return out, nil
}

// RunTrigger prints or sends the requests.
func RunTrigger(ctx context.Context, w io.Writer, opts TriggerOptions) error {
	url := "http://localhost:3000/webhooks/sent"
	if opts.Provider != "" {
		url = "http://localhost:3000/webhooks/" + opts.Provider
	}
	if opts.To != "" {
		url = opts.To
	}
	var reqs []triggered
	var err error
	if opts.Provider != "" && opts.Provider != sentProvider {
		reqs, err = buildProviderTriggered(opts, url)
	} else {
		reqs, err = buildTriggered(opts)
	}
	if err != nil {
		return err
	}
	if opts.Print {
		for i, r := range reqs {
			if i > 0 {
				fmt.Fprintln(w)
			}
			switch opts.Format {
			case "http":
				fmt.Fprintln(w, httpRequest(cmp.Or(r.url, url), r.header, r.body))
			case "curl":
				fmt.Fprint(w, curlCommand(cmp.Or(r.url, url), r.header, r.body))
			default:
				return usageError("--format %q: want http or curl", opts.Format)
			}
		}
		return nil
	}

	client := &http.Client{Timeout: opts.Timeout}
	var notOK int
	for _, r := range reqs {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cmp.Or(r.url, opts.To), bytes.NewReader(r.body))
		if err != nil {
			return usageError("--to: %v", err)
		}
		req.Header = r.header.Clone()
		start := time.Now()
		resp, err := client.Do(req)
		took := time.Since(start)
		if err != nil {
			notOK++
			fmt.Fprintf(w, "%-22s  no answer after %s: %v\n", r.name, took.Round(time.Millisecond), err)
			continue
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			notOK++
		}
		fmt.Fprintf(w, "%-22s  %s in %s  %s\n", r.name, resp.Status, ms(took), oneLine(answer, 160))
	}
	if notOK > 0 {
		return failed(fmt.Errorf("%d of %s %s not answered 2xx", notOK, devtools.Count(len(reqs), "request", "requests"), devtools.Plural(notOK, "was", "were")))
	}
	return nil
}

func oneLine(b []byte, n int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
