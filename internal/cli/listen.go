package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
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

Colour is used in a terminal unless NO_COLOR is set; --color overrides.
--json prints one JSON object per line instead, for jq and scripts.
Ctrl-C stops it gracefully.`,
		Example: `  SENT_WEBHOOK_SECRET=whsec_... hooklatch listen
  hooklatch listen --forward-to localhost:8080/webhooks/sent
  hooklatch listen --forward-to http://localhost:8080/webhooks/sent --replay-failed
  hooklatch listen --forward-to http://localhost:8080/webhooks/sent --replay 3c4d5e6f
  hooklatch listen --json | jq 'select(.outcome == "rejected") | .diagnosis'`,
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
	f.String("forward-secret", "", `sign forwarded events with this whsec_ secret, or "none" (default the first signing secret)`)
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
	if cfg.Color, err = colorFrom(str("color"), env); err != nil {
		return ListenOptions{}, err
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
			return ListenOptions{}, err
		}
	}
	if cfg.ForwardTo == "" {
		for _, name := range []string{"forward-secret", "forward-scheme", "forward-timeout", "forward-attempts"} {
			if f.Changed(name) {
				return ListenOptions{}, usageError("--%s applies to forwarded events: pass --forward-to URL too", name)
			}
		}
		if len(cfg.Replay) > 0 || cfg.ReplayFailed {
			return ListenOptions{}, usageError("--replay and --replay-failed deliver stored events to your app: pass --forward-to URL too")
		}
	}
	if cfg.ForwardTimeout <= 0 {
		return ListenOptions{}, usageError("--forward-timeout: want a positive duration such as 10s")
	}
	if cfg.ForwardAttempts <= 0 {
		return ListenOptions{}, usageError("--forward-attempts: want a positive whole number")
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
