package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// VerifyOptions are the settings of `hooklatch verify`.
type VerifyOptions struct {
	Secrets   []signature.Secret
	Schemes   []signature.Scheme // empty: both
	Tolerance time.Duration
	Now       time.Time
	Header    http.Header
	Body      []byte
	// Provider, when set and not "sent", checks with that provider's
	// source (package source) instead of Sent's scheme, with SecretTexts;
	// URL is where the request was posted (Twilio signs it).
	Provider    string
	SecretTexts []string
	URL         string
}

func newVerifyCommand(env Env) *cobra.Command {
	var (
		headers   []string
		request   string
		scheme    string
		tolerance time.Duration
		now       int64
		provider  string
		url       string
	)
	cmd := &cobra.Command{
		Use:   "verify [FILE]",
		Short: "Check a webhook's signature, and explain a mismatch",
		Long: `verify checks a body (FILE or standard input) against its signature headers
(-H, as with curl) or a whole saved HTTP request (--request), with the
configured secrets. It prints OK and exits 0, or explains the mismatch by
trying the known causes (a re-serialised body, an added newline, the secret
used raw instead of base64-decoded, another environment's secret, a stale
timestamp, …) and exits 1.`,
		Example: `  hooklatch verify body.json -H 'X-Webhook-Id: …' -H 'X-Webhook-Timestamp: …' -H 'X-Webhook-Signature: v1,…'
  hooklatch trigger message.delivered --print > req.http && hooklatch verify --request req.http`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			opts := VerifyOptions{Tolerance: tolerance, Now: time.Now(), Provider: provider, URL: url}
			var err error
			if provider != "" && provider != sentProvider {
				opts.SecretTexts = secretTexts(cmd.Flags(), env.Getenv)
				if len(opts.SecretTexts) == 0 {
					return usageError("no signing secret: pass --secret or set SENT_WEBHOOK_SECRET to the %s secret", provider)
				}
			} else if opts.Secrets, err = secretsFrom(cmd.Flags(), env.Getenv); err != nil {
				return err
			}
			if now != 0 {
				opts.Now = time.Unix(now, 0)
			}
			if scheme != "" {
				s, err := parseScheme(scheme)
				if err != nil {
					return usageError("--scheme: %v", err)
				}
				opts.Schemes = []signature.Scheme{s}
			}
			switch {
			case request != "":
				if len(a) > 0 || len(headers) > 0 {
					return usageError("--request carries its own headers and body: drop FILE and -H")
				}
				if opts.Header, opts.Body, err = readRequest(env.Stdin, request); err != nil {
					return err
				}
			default:
				if opts.Header, err = parseHeaderFlags(headers); err != nil {
					return err
				}
				if opts.Body, err = readBody(env.Stdin, a); err != nil {
					return err
				}
			}
			return RunVerify(env.Stdout, opts)
		},
	}
	addSecretFlags(cmd)
	cmd.Flags().StringArrayVarP(&headers, "header", "H", nil, `a request header, "Name: value" (repeatable)`)
	cmd.Flags().StringVar(&request, "request", "", "a saved HTTP request (headers and body), or - for standard input")
	cmd.Flags().StringVar(&scheme, "scheme", "", "accept only this scheme, v1 or legacy (default both)")
	cmd.Flags().DurationVar(&tolerance, "tolerance", signature.DefaultTolerance, "v1 timestamp tolerance")
	cmd.Flags().Int64Var(&now, "now", 0, "judge the timestamp as of these Unix seconds (default now)")
	cmd.Flags().StringVar(&provider, "provider", "", "check with another provider's rules: "+strings.Join(source.Providers(), ", ")+" (default sent; hmac needs serve's config file)")
	cmd.Flags().StringVar(&url, "url", "", "with --provider twilio: the URL Twilio posted to, which it signs")
	return cmd
}

func parseHeaderFlags(flags []string) (http.Header, error) {
	h := http.Header{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, usageError("-H %q: want \"Name: value\"", f)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(value))
	}
	return h, nil
}

// readRequest reads a saved HTTP/1.1 request: its headers and exact body.
func readRequest(stdin io.Reader, name string) (http.Header, []byte, error) {
	var raw []byte
	var err error
	if name == "-" {
		raw, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
	} else {
		raw, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, nil, usageError("reading the request: %v", err)
	}
	// Accept LF-only files (saved from a terminal) as well as CRLF.
	if !bytes.Contains(raw, []byte("\r\n")) {
		head, body, _ := bytes.Cut(raw, []byte("\n\n"))
		raw = append(append(bytes.ReplaceAll(head, []byte("\n"), []byte("\r\n")), "\r\n\r\n"...), body...)
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, usageError("%s is not an HTTP request: %v", name, err)
	}
	// With Content-Length the body is exactly that many bytes (a newline
	// after it is not part of it); without, it is the rest of the file.
	src := io.Reader(req.Body)
	if req.ContentLength <= 0 && len(req.TransferEncoding) == 0 {
		src = br
	}
	body, err := io.ReadAll(src)
	if err != nil {
		return nil, nil, usageError("%s: the body is shorter than its Content-Length: %v", name, err)
	}
	return req.Header, body, nil
}

// RunVerify verifies and prints the verdict; a failure returns an error
// with exit status 1 after printing the diagnosis.
func RunVerify(w io.Writer, opts VerifyOptions) error {
	if opts.Provider != "" && opts.Provider != sentProvider {
		return runVerifySource(w, opts)
	}
	v, err := signature.NewVerifier(signature.Config{
		Secrets:   opts.Secrets,
		Schemes:   opts.Schemes,
		Tolerance: opts.Tolerance,
		NowFunc:   func() time.Time { return opts.Now },
	})
	if err != nil {
		return usageError("%v", err)
	}
	res, err := v.Verify(opts.Header, opts.Body)
	if err == nil {
		fmt.Fprintf(w, "OK: %s signature verified with secret %d of %d (fp %s)\n",
			res.Scheme, res.SecretIndex+1, len(opts.Secrets), opts.Secrets[res.SecretIndex].Fingerprint())
		if !res.Timestamp.IsZero() {
			fmt.Fprintf(w, "timestamp %s, %s\n", res.Timestamp.UTC().Format(time.RFC3339), sinceNow(res.Timestamp, opts.Now))
		}
		return nil
	}
	fmt.Fprintf(w, "FAILED: %v\n", err)
	d := signature.Diagnose(opts.Header, opts.Body, opts.Secrets, opts.Now, opts.Tolerance)
	fmt.Fprintln(w, d.String())
	return failed(fmt.Errorf("signature not valid (%s)", signature.ReasonCode(err)))
}

// runVerifySource is RunVerify for another provider than Sent.
func runVerifySource(w io.Writer, opts VerifyOptions) error {
	src, err := source.New(source.Settings{
		Name: opts.Provider, Provider: opts.Provider, Secrets: opts.SecretTexts, Tolerance: opts.Tolerance,
		NowFunc: func() time.Time { return opts.Now }, PublicURL: opts.URL, VerifyToken: "unused",
	})
	if err != nil {
		return usageError("--provider: %v", err)
	}
	target := opts.URL
	if target == "" {
		target = "http://localhost/"
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(opts.Body))
	if err != nil {
		return usageError("--url: %v", err)
	}
	req.Header = opts.Header
	v, err := src.Verify(req, opts.Body)
	if err == nil {
		fmt.Fprintf(w, "OK: %s signature verified with secret %d of %d\n", opts.Provider, v.SecretIndex+1, len(opts.SecretTexts))
		fmt.Fprintf(w, "event id %q, type %q\n", v.EventID, v.Type)
		return nil
	}
	fmt.Fprintf(w, "FAILED: %v\n", err)
	fmt.Fprintln(w, src.Diagnose(opts.Header, target, opts.Body, opts.Now).String())
	return failed(fmt.Errorf("signature not valid (%s)", signature.ReasonCode(err)))
}

// sinceNow says when t is, seen from now: "2m1s ago", "1m59s in the
// future", or "now" within half a second.
func sinceNow(t, now time.Time) string {
	switch d := now.Sub(t).Round(time.Second); {
	case d > 0:
		return d.String() + " ago"
	case d < 0:
		return (-d).String() + " in the future"
	}
	return "now"
}
