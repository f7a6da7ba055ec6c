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
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
