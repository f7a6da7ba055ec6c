// Command hooklatch receives Sent webhooks durably and delivers them
// reliably, and gives developers the tools to produce, watch, replay and
// grade webhook traffic locally. See 'hooklatch --help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hooklatch/hooklatch/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.OSEnv()
	env.Hangup = hangup
	code := cli.Main(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}

// hangup subscribes to SIGHUP, with which serve reloads its certificate
// files.
func hangup() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}
