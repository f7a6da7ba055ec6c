package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ServeConfig starts a `hooklatch serve` process on a store.
type ServeConfig struct {
	Exe       string // the hooklatch executable
	Store     string // --store
	Secret    string // the signing secret's text, passed as SENT_WEBHOOK_SECRET
	ForwardTo string // --forward-to
	Stderr    io.Writer
}

// Serve is a running `hooklatch serve` process.
type Serve struct {
	cmd     *exec.Cmd
	exited  chan error
	stop    sync.Once
	stopErr error
	Admin   string // the admin listener's base URL
	Webhook string // the webhook URL
	// Startup is the time from starting the process to /readyz answering
	// 200: opening the store and any migrations included.
	Startup time.Duration
}

// StartServe starts serve and waits until it is ready.
func StartServe(ctx context.Context, c ServeConfig) (*Serve, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.Exe, "serve", "--store", c.Store, "--addr", addr, "--admin-addr", admin,
		"--forward-to", c.ForwardTo, "--log-level", "warn", "--log-format", "text")
	cmd.Env = append(os.Environ(), "SENT_WEBHOOK_SECRET="+c.Secret, "HOOKLATCH_ADMIN_TOKEN=")
	cmd.Stdout, cmd.Stderr = c.Stderr, c.Stderr
	s := &Serve{cmd: cmd, exited: make(chan error, 1), Admin: "http://" + admin, Webhook: "http://" + addr + "/webhooks/sent"}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	go func() { s.exited <- cmd.Wait() }()
	for {
		resp, err := http.Get(s.Admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				s.Startup = time.Since(start)
				return s, nil
			}
		}
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("serve on %s exited before it was ready: %v", c.Store, err)
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop asks serve to shut down and waits for it.
// Later calls return what the first did.
func (s *Serve) Stop() error {
	s.stop.Do(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.stopErr = <-s.exited:
		case <-time.After(60 * time.Second):
			s.cmd.Process.Kill()
			s.stopErr = errors.New("serve did not stop within 60s of SIGTERM; killed")
		}
	})
	return s.stopErr
}

// CPU is the CPU time serve has used so far, user and system.
func (s *Serve) CPU() (time.Duration, error) { return ProcessCPU(s.cmd.Process.Pid) }

// ProcessCPU is the CPU time process pid has used so far, user and
// system, from /proc (Linux only).
func ProcessCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("CPU time of process %d (Linux /proc only): %w", pid, err)
	}
	// The fields after the command name in parentheses: state is the
	// third field, utime the 14th, stime the 15th.
	_, rest, _ := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}

// IdleCPU is the share of a core serve uses over d while nothing is sent.
func (s *Serve) IdleCPU(ctx context.Context, d time.Duration) (float64, error) {
	before, err := s.CPU()
	if err != nil {
		return 0, err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	after, err := s.CPU()
	if err != nil {
		return 0, err
	}
	return (after - before).Seconds() / d.Seconds(), nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Sink is an HTTP destination answering 200 to everything.
func Sink() (url string, stop func(), err error) {
	return serveHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
}

// serveHTTP serves h on a free local port until stop.
func serveHTTP(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String() + "/hook", func() { srv.Close() }, nil
}
