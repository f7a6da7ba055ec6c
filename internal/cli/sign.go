package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// SignOptions are the settings of `hooklatch sign`.
type SignOptions struct {
	Scheme    signature.Scheme
	Secret    signature.Secret
	WebhookID string
	Timestamp time.Time
	Format    string // headers, json or curl
	URL       string // for curl, and the URL Twilio signs
	// Provider, when set and not "sent", signs as that provider does
	// (package source) with SecretText.
	Provider   string
	SecretText string
}

func newSignCommand(env Env) *cobra.Command {
	var (
		opts           SignOptions
		scheme         string
		unix           int64
		webhookIDFlags string
	)
	cmd := &cobra.Command{
		Use:   "sign [FILE]",
		Short: "Print the signature headers Sent would send with a body",
		Long: `sign reads a body from FILE (or standard input) and prints the headers that
sign it, exactly as Sent would: X-Webhook-Id, X-Webhook-Timestamp and
X-Webhook-Signature (v1,<base64>) for the v1 scheme, or X-Webhook-Signature
(sha256=<hex>) alone for the legacy scheme.`,
		Example: `  hooklatch sign body.json --secret whsec_...
  hooklatch sign body.json --scheme legacy --format curl --url http://localhost:3000/webhooks/sent`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			var err error
			if opts.Scheme, err = parseScheme(scheme); err != nil {
				return usageError("--scheme: %v", err)
			}
			if opts.Provider != "" && opts.Provider != sentProvider {
				texts := secretTexts(cmd.Flags(), env.Getenv)
				if len(texts) == 0 {
					return usageError("no signing secret: pass --secret or set SENT_WEBHOOK_SECRET to the %s secret", opts.Provider)
				}
				opts.SecretText = texts[0]
			} else {
				secrets, err := secretsFrom(cmd.Flags(), env.Getenv)
				if err != nil {
					return err
				}
				opts.Secret = secrets[0]
			}
			opts.WebhookID = webhookIDFlags
			if unix != 0 {
				opts.Timestamp = time.Unix(unix, 0)
			}
			body, err := readBody(env.Stdin, a)
			if err != nil {
				return err
			}
			return RunSign(env.Stdout, env.Stderr, body, opts)
		},
	}
	addSecretFlags(cmd)
	cmd.Flags().StringVar(&scheme, "scheme", "v1", "signature scheme: v1 or legacy")
	cmd.Flags().StringVar(&webhookIDFlags, "webhook-id", "", "X-Webhook-Id to sign with (v1; default a random UUID)")
	cmd.Flags().Int64Var(&unix, "timestamp", 0, "X-Webhook-Timestamp, Unix seconds (v1; default now)")
	cmd.Flags().StringVar(&opts.Format, "format", "headers", "output: headers, json or curl")
	cmd.Flags().StringVar(&opts.URL, "url", "http://localhost:3000/webhooks/sent", "target URL for --format curl (with --provider twilio, the URL signed)")
	cmd.Flags().StringVar(&opts.Provider, "provider", "", "sign as another provider does: "+strings.Join(source.Providers(), ", ")+" (default sent; hmac needs serve's config file)")
	return cmd
}

// readBody reads the body from the file named in args, or standard input.
func readBody(stdin io.Reader, args []string) ([]byte, error) {
	if len(args) == 0 || args[0] == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 64<<20))
		if err != nil {
			return nil, fmt.Errorf("reading the body from standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return nil, usageError("reading the body: %v", err)
	}
	return b, nil
}

// RunSign prints the signing headers for body. When the provider signs a
// URL other than --url (Twilio adds a JSON body's bodySHA256 to it), the
// headers and json formats say on notes which URL to post to: the
// signature holds only there.
func RunSign(w, notes io.Writer, body []byte, opts SignOptions) error {
	var h http.Header
	url := opts.URL
	if opts.Provider != "" && opts.Provider != sentProvider {
		var err error
		if h, url, err = signAs(opts, body); err != nil {
			return err
		}
	} else {
		h = signature.Sign(opts.Scheme, opts.Secret, body, signature.SignOptions{WebhookID: opts.WebhookID, Timestamp: opts.Timestamp})
		h.Set("Content-Type", "application/json")
	}
	switch opts.Format {
	case "headers":
		notePostURL(notes, url, opts.URL)
		writeHeaders(w, h)
		return nil
	case "json":
		notePostURL(notes, url, opts.URL)
		flat := map[string]string{}
		for k := range h {
			flat[k] = h.Get(k)
		}
		return json.NewEncoder(w).Encode(flat)
	case "curl":
		_, err := io.WriteString(w, curlCommand(url, h, body))
		return err
	}
	return usageError("--format %q: want headers, json or curl", opts.Format)
}

// notePostURL says which URL to post to when the signature covers another
// than --url: the headers alone cannot show it.
func notePostURL(notes io.Writer, signed, given string) {
	if signed != given {
		fmt.Fprintf(notes, "post to %s: the signature covers that URL\n", signed)
	}
}

// writeHeaders prints headers one per line, in a stable order.
func writeHeaders(w io.Writer, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
}

// curlCommand is a shell command that posts body with headers h.
func curlCommand(url string, h http.Header, body []byte) string {
	var b strings.Builder
	b.WriteString("curl -sS -X POST " + shellQuote(url))
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString(" \\\n  -H " + shellQuote(k+": "+v))
		}
	}
	b.WriteString(" \\\n  --data-binary " + shellQuote(string(body)) + "\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// httpRequest renders a request as HTTP/1.1 text, the form `verify
// --request` reads back.
func httpRequest(url string, h http.Header, body []byte) string {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	host, path := "localhost", "/webhooks/sent"
	if err == nil {
		host, path = req.URL.Host, req.URL.RequestURI()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	h = h.Clone()
	h.Set("Content-Length", strconv.Itoa(len(body)))
	var hb strings.Builder
	writeHeaders(&hb, h)
	b.WriteString(strings.ReplaceAll(hb.String(), "\n", "\r\n"))
	b.WriteString("\r\n")
	b.Write(body)
	return b.String()
}
