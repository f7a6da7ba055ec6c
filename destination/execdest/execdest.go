package execdest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/hooklatch/hooklatch/destination"
)

// Environment variables that describe the delivery to the command.
const (
	EnvEventID     = "HOOKLATCH_EVENT_ID"
	EnvEventType   = "HOOKLATCH_EVENT_TYPE"
	EnvSubjectKind = "HOOKLATCH_SUBJECT_KIND"
	EnvSubject     = "HOOKLATCH_SUBJECT"
	EnvDeliveryID  = "HOOKLATCH_DELIVERY_ID"
	EnvAttempt     = "HOOKLATCH_ATTEMPT"
	EnvDedupeKey   = "HOOKLATCH_DEDUPE_KEY"
	// EnvStale is "true" when a later state of the event's subject had
	// already been received when the delivery was claimed, else "false"
	// (always for an event with no subject).
	EnvStale = "HOOKLATCH_STALE"
	// EnvSubjectStatus is the status of the subject's latest state then;
	// empty for an event with no subject.
	EnvSubjectStatus = "HOOKLATCH_SUBJECT_STATUS"
	// EnvSource names the source the event came in on ("sent" by default).
	EnvSource = "HOOKLATCH_SOURCE"
	// EnvTraceParent is set while tracing is on, to the W3C traceparent
	// of the attempt's span (destination.Delivery.TraceParent), the name
	// OpenTelemetry gives the environment carrier.
	EnvTraceParent = "TRACEPARENT"
)

// Exit statuses with a meaning of their own, from sysexits.h.
const (
	ExitUsage    = 64 // EX_USAGE: permanent
	ExitDataErr  = 65 // EX_DATAERR: permanent
	ExitTempFail = 75 // EX_TEMPFAIL: temporary
	ExitNoPerm   = 77 // EX_NOPERM: permanent
)

const (
	defaultTimeout        = 30 * time.Second
	defaultMaxOutputBytes = 4096

	// waitDelay bounds how long output pipes held open by stray children
	// keep an attempt going once the command has exited or been killed.
	waitDelay = time.Second
)

// Config configures a Destination.
type Config struct {
	// Command is the program and its arguments, as an argv: no shell
	// parses it. A program name without a slash is looked up in PATH when
	// New is called.
	//
	// Required.
	Command []string

	// Timeout bounds each run. At the deadline the command's whole process
	// group is killed.
	//
	// Defaults to 30s.
	Timeout time.Duration

	// Env is extra environment, "KEY=value" entries added to hooklatch's
	// own. The HOOKLATCH_* variables cannot be overridden.
	Env []string

	// Dir is the working directory. Defaults to hooklatch's.
	Dir string

	// MaxOutputBytes bounds the combined stdout and stderr kept for the
	// attempt's record: the last bytes, where errors usually are.
	//
	// Defaults to 4096.
	MaxOutputBytes int
}

// Destination runs a command per delivery. It is safe for concurrent use.
type Destination struct {
	path     string   // resolved program
	args     []string // argv, argv[0] as configured
	env      []string // os.Environ() and Config.Env
	dir      string
	timeout  time.Duration
	maxOut   int
	deadline *timeoutError // the cause of a run's own timeout
}

var _ destination.Destination = (*Destination)(nil)

// New validates cfg, applies its defaults and returns a Destination.
func New(cfg Config) (*Destination, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, configError("Command", "required")
	}
	if cfg.Timeout < 0 {
		return nil, configError("Timeout", "negative (%s)", cfg.Timeout)
	}
	if cfg.MaxOutputBytes < 0 {
		return nil, configError("MaxOutputBytes", "negative (%d)", cfg.MaxOutputBytes)
	}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, configError("Env", "%q is not KEY=value", kv)
		}
	}
	if cfg.Dir != "" {
		if fi, err := os.Stat(cfg.Dir); err != nil {
			return nil, configError("Dir", "%w", err)
		} else if !fi.IsDir() {
			return nil, configError("Dir", "%s is not a directory", cfg.Dir)
		}
	}
	path, err := resolve(cfg.Command[0], cfg.Dir)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(cfg.Timeout, defaultTimeout)
	return &Destination{
		path:     path,
		args:     append([]string(nil), cfg.Command...),
		env:      append(os.Environ(), cfg.Env...),
		dir:      cfg.Dir,
		timeout:  timeout,
		maxOut:   cmp.Or(cfg.MaxOutputBytes, defaultMaxOutputBytes),
		deadline: &timeoutError{timeout},
	}, nil
}

// configError is New's objection to one field of its Config.
func configError(field, format string, args ...any) error {
	return &destination.ConfigError{Package: "execdest", Field: field, Err: fmt.Errorf(format, args...)}
}

// commandError says why Config.Command cannot be run, without exec's
// package name: `"unsubscribe": executable file not found in $PATH`.
func commandError(err error) error {
	if e, ok := errors.AsType[*exec.Error](err); ok {
		err = fmt.Errorf("%q: %w", e.Name, e.Err)
	}
	return configError("Command", "%w", err)
}

// resolve finds the program once, so a typo fails at start-up rather than
// at the first event: a bare name in PATH, a relative path from dir.
func resolve(name, dir string) (string, error) {
	if !strings.ContainsRune(name, filepath.Separator) {
		path, err := exec.LookPath(name)
		if err != nil {
			return "", commandError(err)
		}
		return path, nil
	}
	if !filepath.IsAbs(name) && dir != "" {
		name = filepath.Join(dir, name)
	}
	path, err := filepath.Abs(name)
	if err != nil {
		return "", commandError(err)
	}
	if _, err := exec.LookPath(path); err != nil {
		return "", commandError(err)
	}
	return path, nil
}

// Deliver runs the command with the event on stdin and classifies how it
// ended; see the package documentation for the table.
func (d *Destination) Deliver(ctx context.Context, dl *destination.Delivery) error {
	if dl == nil || dl.Event == nil {
		return destination.Permanent(errors.New("execdest: delivery without an event"))
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, d.deadline)
	defer cancel()

	out := &tailBuffer{max: d.maxOut}
	cmd := exec.CommandContext(ctx, d.path)
	cmd.Args = d.args
	cmd.Dir = d.dir
	cmd.Env = d.environ(dl)
	cmd.Stdin = bytes.NewReader(dl.Event.Body)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = waitDelay
	killProcessGroup(cmd)

	err := cmd.Run()
	res := destination.Result{Response: out.String()}
	if cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		res.StatusCode = cmd.ProcessState.ExitCode()
	}
	return destination.WithResult(d.judge(ctx, cmd, err, res.Response), res)
}

// judge turns how the command ended into the error Deliver returns: the one
// table of exit statuses.
func (d *Destination) judge(ctx context.Context, cmd *exec.Cmd, err error, output string) error {
	name := d.args[0]
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrWaitDelay):
		// The command exited 0; something it started kept the output open.
		return nil
	case ctx.Err() != nil && context.Cause(ctx) == d.deadline:
		return withOutput(fmt.Errorf("command %s: %w; its process group was killed", name, d.deadline), output)
	case ctx.Err() != nil:
		return withOutput(fmt.Errorf("command %s: %w", name, context.Cause(ctx)), output)
	case cmd.ProcessState == nil:
		return fmt.Errorf("command %s could not start: %w", name, err)
	}

	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if st.Signaled() {
		return withOutput(fmt.Errorf("command %s was killed by signal %s", name, st.Signal()), output)
	}
	code := cmd.ProcessState.ExitCode()
	exitErr := withOutput(fmt.Errorf("command %s exited with status %d%s", name, code, sysexitName(code)), output)
	switch code {
	case ExitUsage, ExitDataErr, ExitNoPerm:
		return destination.Permanent(exitErr)
	}
	return exitErr // ExitTempFail, and any other status
}

// environ is the command's environment for one delivery. exec keeps the
// last of duplicate keys, so these win over Config.Env.
func (d *Destination) environ(dl *destination.Delivery) []string {
	ev := dl.Event
	env := make([]string, len(d.env), len(d.env)+11)
	copy(env, d.env)
	if dl.TraceParent != "" {
		env = append(env, EnvTraceParent+"="+dl.TraceParent)
	}
	return append(env,
		EnvEventID+"="+noNUL(ev.ID),
		EnvEventType+"="+noNUL(ev.Type),
		EnvSubjectKind+"="+noNUL(ev.SubjectKind),
		EnvSubject+"="+noNUL(ev.Subject),
		EnvDeliveryID+"="+strconv.FormatInt(dl.ID, 10),
		EnvAttempt+"="+strconv.Itoa(dl.Attempt),
		EnvDedupeKey+"="+noNUL(ev.DedupeKey),
		EnvStale+"="+strconv.FormatBool(dl.Stale),
		EnvSubjectStatus+"="+noNUL(dl.SubjectStatus),
		EnvSource+"="+noNUL(ev.Source),
	)
}

// noNUL drops NUL bytes, which an environment cannot hold.
func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func sysexitName(code int) string {
	switch code {
	case ExitUsage:
		return " (EX_USAGE)"
	case ExitDataErr:
		return " (EX_DATAERR)"
	case ExitTempFail:
		return " (EX_TEMPFAIL)"
	case ExitNoPerm:
		return " (EX_NOPERM)"
	}
	return ""
}

func withOutput(err error, output string) error {
	if s := strings.TrimSpace(output); s != "" {
		return fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// timeoutError is the cause of a run that outlasted Config.Timeout. It is a
// context.DeadlineExceeded.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string { return fmt.Sprintf("no exit within %s", e.after) }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// tailBuffer keeps the last max bytes written to it. exec calls Write from
// one goroutine at a time when stdout and stderr share it.
type tailBuffer struct {
	max   int
	buf   []byte
	total int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.total += len(p)
	if len(p) >= b.max {
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*b.max {
		b.buf = b.buf[:copy(b.buf, b.buf[len(b.buf)-b.max:])]
	}
	return len(p), nil
}

// String returns the kept bytes as text: a character cut at the start is
// dropped and invalid bytes become '?'.
func (b *tailBuffer) String() string {
	t := b.buf
	if len(t) > b.max {
		t = t[len(t)-b.max:]
	}
	if b.total > len(t) {
		for i := 0; i < utf8.UTFMax-1 && len(t) > 0 && !utf8.RuneStart(t[0]); i++ {
			t = t[1:]
		}
	}
	return strings.ToValidUTF8(string(t), "?")
}
