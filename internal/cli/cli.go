// Package cli is the hooklatch command line: one file per command, each an
// options struct, a cobra command that fills it, and a run function tests
// call directly.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/storeopen"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// userAgent says which hooklatch sent a request.
func userAgent() string { return "hooklatch/" + readBuildInfo().Short() }

// Env is the command's environment: streams and variables, so tests can
// run commands without touching the process's own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Hangup, when set, subscribes to SIGHUP until stop is called: serve
	// reloads its certificate files on each. Only a serve with certificate
	// files subscribes, so SIGHUP ends any other command as it always has.
	Hangup func() (c <-chan os.Signal, stop func())
}

// OSEnv is the process's own environment.
func OSEnv() Env {
	return Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// Exit codes, decided in one place (ExitCode).
const (
	ExitOK      = 0
	ExitFailed  = 1 // the command ran and what it checked failed (bad signature, failed grade)
	ExitUsage   = 2 // wrong flags, arguments or configuration
	ExitRuntime = 3 // something outside the check went wrong (store, network)
)

// ExitError carries an exit code through cobra.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

func usageError(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

func failed(err error) error { return &ExitError{Code: ExitFailed, Err: err} }

// ExitCode maps an error from a command to the process's exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if e, ok := errors.AsType[*ExitError](err); ok {
		return e.Code
	}
	return ExitRuntime
}

// Main runs the CLI with args and returns the exit status.
func Main(ctx context.Context, args []string, env Env) int {
	root := NewRootCommand(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		if strings.HasPrefix(err.Error(), "unknown command") {
			err = &ExitError{Code: ExitUsage, Err: err}
		}
		msg := err.Error()
		if errors.Is(err, event.ErrUnknownType) {
			msg += " ('hooklatch trigger --list' lists every type)"
		}
		fmt.Fprintln(env.Stderr, "hooklatch:", msg)
	}
	return ExitCode(err)
}

// args wraps a cobra argument check so that its failure is a usage error
// that says, from the command's usage line, what it takes (rather than
// cobra's "accepts 1 arg(s), received 0").
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			_, want, _ := strings.Cut(cmd.Use, " ")
			if want == "" {
				want = "no arguments"
			}
			got := "nothing"
			if len(a) > 0 {
				got = strings.Join(a, " ")
			}
			name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s takes %s, got %s", name, want, got)}
		}
		return nil
	}
}

// NewRootCommand builds the command tree.
func NewRootCommand(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "hooklatch",
		Short: "Receive Sent webhooks durably, deliver them reliably, and debug them locally",
		Long: `hooklatch verifies every webhook Sent sends, stores it durably and idempotently,
answers in milliseconds, and delivers it onward with retries. It also produces,
watches and grades webhook traffic on a laptop.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       readBuildInfo().Short(),
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &ExitError{Code: ExitUsage, Err: err} })
	root.AddCommand(
		newVersionCommand(env),
		newServeCommand(env),
		newRejectionsCommand(env),
		newEventsCommand(env),
		newSubjectsCommand(env),
		newDestinationsCommand(env),
		newBenchCommand(env),
		newSignCommand(env),
		newVerifyCommand(env),
		newTriggerCommand(env),
		newSendCommand(env),
		newListenCommand(env),
		newCheckCommand(env),
		newTokenCommand(env),
		newHealthcheckCommand(env),
	)
	return root
}

// logFlags adds --log-format and --log-level (defaulting to level) to cmd,
// a command that logs (the others print what they have to say), and
// returns the function that builds its logger.
func logFlags(cmd *cobra.Command, env Env, level string) func() (*slog.Logger, error) {
	var format string
	cmd.Flags().StringVar(&format, "log-format", "auto", "log format: auto (text in a terminal, JSON otherwise), text or json")
	cmd.Flags().StringVar(&level, "log-level", level, "log level: debug, info, warn or error")
	return func() (*slog.Logger, error) { return newLogger(env.Stderr, format, level) }
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "auto":
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			return slog.New(slog.NewTextHandler(w, opts)), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError("--log-format %q: want auto, text or json", format)
}

// setting resolves one setting: the flag when given, else the first
// environment variable set, else the flag's default.
func setting(flags *pflag.FlagSet, name string, getenv func(string) string, envs ...string) string {
	return settingFrom(flags, name, nil, getenv, envs...)
}

// settingFrom is setting with a config file's values between the
// environment and the default.
func settingFrom(flags *pflag.FlagSet, name string, file map[string]string, getenv func(string) string, envs ...string) string {
	f := flags.Lookup(name)
	if f.Changed {
		return f.Value.String()
	}
	for _, e := range envs {
		if v := getenv(e); v != "" {
			return v
		}
	}
	if v := file[name]; v != "" {
		return v
	}
	return f.Value.String()
}

// secretsFrom resolves --secret / SENT_WEBHOOK_SECRET / SENT_DM_WEBHOOK_SECRET.
func secretsFrom(flags *pflag.FlagSet, getenv func(string) string) ([]signature.Secret, error) {
	return secretsFromFile(flags, nil, getenv)
}

func secretsFromFile(flags *pflag.FlagSet, file map[string]string, getenv func(string) string) ([]signature.Secret, error) {
	raw := settingFrom(flags, "secret", file, getenv, "SENT_WEBHOOK_SECRET", "SENT_DM_WEBHOOK_SECRET")
	if strings.TrimSpace(raw) == "" {
		return nil, usageError("no signing secret: set SENT_WEBHOOK_SECRET (comma-separated for several) or pass --secret; it is the whsec_… value shown in Sent's dashboard for your webhook")
	}
	secrets, err := signature.ParseSecrets(raw)
	if err != nil {
		return nil, secretError("signing secret", err)
	}
	return secrets, nil
}

// storeUse says what a command does with the store it names.
type storeUse int

const (
	readStore   = storeUse(storeopen.Read)   // reads it: never creates nor migrates it
	changeStore = storeUse(storeopen.Change) // changes what it holds: it must exist
)

// storeFlag adds --store to cmd and its subcommands, and returns the
// function that opens the store it names ($HOOKLATCH_STORE otherwise).
// These commands work on the store a serve keeps: when there is none,
// they say so instead of creating one. The store's own warnings, if any,
// go to standard error.
func storeFlag(cmd *cobra.Command, env Env) func(*cobra.Command, storeUse) (store.Store, error) {
	cmd.PersistentFlags().String("store", "hooklatch.db", storeHelp)
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return func(c *cobra.Command, use storeUse) (store.Store, error) {
		location := setting(c.Flags(), "store", env.Getenv, storeEnv...)
		st, err := storeopen.Open(c.Context(), location, storeopen.Options{Use: storeopen.Use(use), Logger: log})
		if errors.Is(err, store.ErrNoStore) && !storeopen.IsPostgres(location) {
			return nil, failed(fmt.Errorf("%w%s", err, listenStoreHint(location)))
		}
		if errors.Is(err, store.ErrNoStore) || errors.As(err, new(*store.SchemaError)) {
			return nil, failed(err)
		}
		return st, err
	}
}

// storeHelp and storeEnv describe --store wherever it is taken.
const storeHelp = "store: a SQLite file path, or a postgres:// URL (its schema= parameter names the installation's schema, default hooklatch) ($HOOKLATCH_STORE, then $HOOKLATCH_DATABASE_URL)"

var storeEnv = []string{"HOOKLATCH_STORE", "HOOKLATCH_DATABASE_URL"}

// listenStoreHint points at listen's store when a command looked in the
// default one and listen keeps its events next to it.
func listenStoreHint(path string) string {
	if path != "hooklatch.db" {
		return ""
	}
	if _, err := os.Stat(devtools.DefaultListenStore); err != nil {
		return ""
	}
	return "; hooklatch listen keeps its events in " + devtools.DefaultListenStore + ": add --store " + devtools.DefaultListenStore
}

// parseScheme is signature.ParseScheme in the command line's words.
func parseScheme(s string) (signature.Scheme, error) {
	scheme, err := signature.ParseScheme(s)
	if err != nil {
		return "", fmt.Errorf("%q: want v1 or legacy", s)
	}
	return scheme, nil
}

// secretError is a usage error for a secret the signature package
// refused, in its words but without its package's name.
func secretError(what string, err error) error {
	return usageError("%s: %s", what, strings.TrimPrefix(err.Error(), signature.ErrInvalidSecret.Error()+": "))
}

func addSecretFlags(cmd *cobra.Command) {
	cmd.Flags().String("secret", "", "signing secrets, comma-separated: one, or several while rotating (default $SENT_WEBHOOK_SECRET, then $SENT_DM_WEBHOOK_SECRET)")
}
