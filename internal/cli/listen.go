package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/receiver"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/source"
)

// ListenOptions are the settings of `hooklatch listen`, resolved.
type ListenOptions struct {
	Listen devtools.ListenConfig
}

func newListenCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive webhooks on a laptop: verify, store, print each one, forward to your app",
		Long: `listen is a local receiver for development, on 127.0.0.1:3000: this machine
only (a tunnel such as ngrok or cloudflared reaches it; --addr :3000 lets
other machines in). It verifies each request as serve does, stores every
event in a local SQLite file (so nothing is lost while your app is down),
and prints one line per request: time, verification (✓ scheme,
or ✗ and why), event type, subject, status, short event id, and whether it is
new, a duplicate, or needs attention (unknown type, unparseable body).

With --forward-to it delivers each event to your app, with retries, signed
with your signing secret in the scheme it arrived with (so your app's
signature check passes, whichever of Sent's schemes it verifies; see
--forward-secret and --forward-scheme), and prints each answer and its
latency under the event's line.

--replay ID delivers stored events to --forward-to again (the short id listen
prints is enough), and --replay-failed every delivery that is dead; listen then
keeps listening. An event stored while listen was not forwarding gets its
delivery when it is first replayed, retried like any other.

--provider receives another provider's webhooks instead of Sent's, at
/webhooks/<provider> unless --path says otherwise: stripe, github, slack (its
url_verification answered), meta (its hub.challenge GET answered with
$HOOKLATCH_SOURCE_META_VERIFY_TOKEN), shopify, twilio, standard-webhooks or
hmac, with settings as in serve's --source (twilio,public_url=<the URL Twilio
posts to, such as the tunnel's>; hmac,header=X-Signature,...). Its secret is
--secret (or $SENT_WEBHOOK_SECRET, else $HOOKLATCH_SOURCE_<PROVIDER>_SECRET).
Forwarded events are signed afresh as that provider signs, with that secret
or --forward-secret, over the --forward-to URL, and carry the provider's own
headers (X-GitHub-Event, X-Shopify-Topic...): an app written for the provider
verifies them as it would the provider's. A rejection is diagnosed by the
provider's rules.

Colour is used in a terminal unless NO_COLOR is set; --color overrides.
--json prints one JSON object per line instead, for jq and scripts.
Ctrl-C stops it gracefully.`,
		Example: `  SENT_WEBHOOK_SECRET=whsec_... hooklatch listen
  hooklatch listen --forward-to localhost:8080/webhooks/sent
  hooklatch listen --forward-to http://localhost:8080/webhooks/sent --replay-failed
  hooklatch listen --forward-to http://localhost:8080/webhooks/sent --replay 3c4d5e6f
  hooklatch listen --json | jq 'select(.outcome == "rejected") | .diagnosis'
  hooklatch listen --provider stripe --secret whsec_... --forward-to localhost:8080/webhooks/stripe
  hooklatch listen --provider twilio,public_url=https://abc.ngrok.app/webhooks/twilio --forward-to :8080/sms`,
		Args: args(cobra.NoArgs),
	}
	f := cmd.Flags()
	logger := logFlags(cmd, env, "info")
	addSecretFlags(cmd)
	f.String("addr", devtools.DefaultListenAddr, "listen address: this machine only by default; :3000 takes requests from other machines too")
	f.String("path", "/webhooks/sent", "webhook path")
	f.String("store", devtools.DefaultListenStore, "store: a SQLite file path")
	f.String("scheme", "", "accept only this signature scheme, legacy or v1 (default both)")
	f.String("forward-to", "", "deliver every event to your app at this URL, with retries; host:port/path assumes http, a bare port localhost")
	f.String("provider", "", "receive another provider's webhooks instead of Sent's: "+strings.Join(source.Providers(), ", ")+", then settings as in serve's --source (twilio,public_url=…; hmac,header=…) (default sent)")
	f.String("forward-secret", "", `sign forwarded events with this whsec_ secret (with --provider, that provider's secret), or "none" (default the first signing secret)`)
	f.String("forward-scheme", "as-received", "sign forwarded events as-received (in the scheme each arrived with), v1 or legacy")
	f.Duration("forward-timeout", devtools.DefaultForwardTimeout, "how long one forwarding attempt may take")
	f.Int("forward-attempts", devtools.DefaultForwardAttempts, "attempts before a forwarded event's delivery is dead")
	f.String("color", "auto", "colour the output: auto (in a terminal, unless NO_COLOR is set), always or never")
	f.Bool("json", false, "print one JSON object per request and per forwarding attempt; the banner and summary go to standard error")
	f.StringArray("replay", nil, "deliver this stored event to --forward-to again: an event id or the short id listen printed (repeatable)")
	f.Bool("replay-failed", false, "deliver every dead forwarded delivery again")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log, err := logger()
		if err != nil {
			return err
		}
		if !cmd.Flag("log-level").Changed {
			// Each request is printed; the log would only say it again.
			log = slog.New(minLevel{log.Handler(), slog.LevelError})
		}
		opts, err := resolveListen(cmd, env)
		if err != nil {
			return err
		}
		opts.Listen.Server.Logger = log
		return RunListen(cmd.Context(), opts)
	}
	return cmd
}

func resolveListen(cmd *cobra.Command, env Env) (ListenOptions, error) {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }
	sc, settings, err := providerSettings(str("provider"), f, env.Getenv)
	if err != nil {
		return ListenOptions{}, err
	}
	if sc != nil {
		return resolveListenProvider(cmd, env, sc, settings)
	}
	secrets, err := secretsFrom(f, env.Getenv)
	if err != nil {
		return ListenOptions{}, err
	}
	cfg := devtools.ListenConfig{
		Server: server.Config{
			Addr:    str("addr"),
			Path:    str("path"),
			Store:   str("store"),
			Secrets: secrets,
		},
		ForwardTo: str("forward-to"),
		Out:       env.Stdout,
	}
	if s := str("scheme"); s != "" {
		scheme, err := parseScheme(s)
		if err != nil {
			return ListenOptions{}, usageError("--scheme: %v", err)
		}
		cfg.Server.Schemes = []signature.Scheme{scheme}
	}
	if err := listenOutputAndForwarding(cmd, env, &cfg); err != nil {
		return ListenOptions{}, err
	}
	switch sc := signature.Scheme(str("forward-scheme")); sc {
	case httpdest.SchemeAsReceived, signature.V1, signature.Legacy:
		cfg.ForwardScheme = sc
	default:
		return ListenOptions{}, usageError("--forward-scheme %q: want as-received, v1 or legacy", sc)
	}
	switch fs := str("forward-secret"); fs {
	case "none":
	case "":
		cfg.ForwardSecret = secrets[0]
	default:
		if cfg.ForwardSecret, err = signature.ParseSecret(fs); err != nil {
			return ListenOptions{}, secretError("--forward-secret", err)
		}
	}
	return ListenOptions{Listen: cfg}, nil
}

// resolveListenProvider resolves listen --provider: the provider's
// requests verified at /webhooks/<provider> (or --path), and forwarded
// signed as the provider signs, with its secret or --forward-secret.
func resolveListenProvider(cmd *cobra.Command, env Env, sc *SourceConfig, settings source.Settings) (ListenOptions, error) {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }
	for _, name := range []string{"scheme", "forward-scheme"} {
		if f.Changed(name) {
			return ListenOptions{}, usageError("--%s is Sent's: %s signs one way", name, sc.Provider)
		}
	}
	path := str("path")
	switch {
	case f.Changed("path") && sc.Path != "":
		return ListenOptions{}, usageError("--path and --provider's path= name two paths: give one")
	case sc.Path != "":
		path = sc.Path
	case !f.Changed("path"):
		path = "/webhooks/" + sc.Provider
	}
	src, err := source.New(settings)
	if err != nil {
		return ListenOptions{}, usageError("--provider: %v", err)
	}
	cfg := devtools.ListenConfig{
		Server: server.Config{
			Addr:    str("addr"),
			Path:    path,
			Store:   str("store"),
			Sources: []receiver.Endpoint{{Name: sc.Provider, Path: path, Source: src}},
		},
		ForwardTo: str("forward-to"),
		Out:       env.Stdout,
	}
	if err := listenOutputAndForwarding(cmd, env, &cfg); err != nil {
		return ListenOptions{}, err
	}
	if cfg.ForwardTo == "" || str("forward-secret") == "none" {
		return ListenOptions{Listen: cfg}, nil
	}
	// The app checks the URL it is posted at (Twilio's), not the public
	// one the provider posts to.
	fwd := settings
	fwd.PublicURL = ""
	if fs := str("forward-secret"); fs != "" {
		fwd.Secrets = []string{fs}
	}
	fwd.Secrets = slices.Clone(fwd.Secrets)
	fsrc, err := source.New(fwd)
	if err != nil {
		return ListenOptions{}, usageError("--forward-secret: %v", err)
	}
	signer, ok := fsrc.(source.Signer)
	if !ok {
		return ListenOptions{}, usageError("--provider %s cannot sign forwarded events", sc.Provider)
	}
	cfg.ForwardSigner = signer
	return ListenOptions{Listen: cfg}, nil
}

// listenOutputAndForwarding resolves listen's output and forwarding
// settings, whichever provider it receives.
func listenOutputAndForwarding(cmd *cobra.Command, env Env, cfg *devtools.ListenConfig) error {
	f := cmd.Flags()
	str := func(name string) string { v, _ := f.GetString(name); return v }
	var err error
	if cfg.Color, err = colorFrom(str("color"), env); err != nil {
		return err
	}
	if cfg.JSON, _ = f.GetBool("json"); cfg.JSON {
		cfg.Color, cfg.Status = false, env.Stderr
	}

	cfg.ForwardTimeout, _ = f.GetDuration("forward-timeout")
	cfg.ForwardAttempts, _ = f.GetInt("forward-attempts")
	cfg.ReplayFailed, _ = f.GetBool("replay-failed")
	replay, _ := f.GetStringArray("replay")
	for _, r := range replay {
		for _, id := range strings.Split(r, ",") {
			if id = strings.TrimSpace(id); id != "" {
				cfg.Replay = append(cfg.Replay, id)
			}
		}
	}
	if cfg.ForwardTo != "" {
		if cfg.ForwardTo, err = forwardURL("--forward-to", cfg.ForwardTo); err != nil {
			return err
		}
	}
	if cfg.ForwardTo == "" {
		for _, name := range []string{"forward-secret", "forward-scheme", "forward-timeout", "forward-attempts"} {
			if f.Changed(name) {
				return usageError("--%s applies to forwarded events: pass --forward-to URL too", name)
			}
		}
		if len(cfg.Replay) > 0 || cfg.ReplayFailed {
			return usageError("--replay and --replay-failed deliver stored events to your app: pass --forward-to URL too")
		}
	}
	if cfg.ForwardTimeout <= 0 {
		return usageError("--forward-timeout: want a positive duration such as 10s")
	}
	if cfg.ForwardAttempts <= 0 {
		return usageError("--forward-attempts: want a positive whole number")
	}
	return nil
}

// colorFrom decides whether to colour the output: always, never, or (auto)
// when it is a terminal and NO_COLOR is unset.
func colorFrom(mode string, env Env) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if env.Getenv("NO_COLOR") != "" || env.Getenv("TERM") == "dumb" {
			return false, nil
		}
		return isTerminal(env.Stdout), nil
	}
	return false, usageError("--color %q: want auto, always or never", mode)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// RunListen receives, prints and forwards until ctx is cancelled.
func RunListen(ctx context.Context, opts ListenOptions) error {
	l, err := devtools.NewListener(ctx, opts.Listen)
	if errors.Is(err, devtools.ErrListenConfig) || errors.Is(err, server.ErrConfig) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	return l.Run(ctx)
}

// minLevel drops records below min, whatever the handler it wraps allows.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
