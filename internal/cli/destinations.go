package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/inspect"
)

func newDestinationsCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "destinations",
		Short: "List the destinations, pause and resume them",
		Long: `A paused destination keeps receiving its events (Sent still gets its 2xx) and
holds their deliveries: nothing is attempted and no retry is spent until it is
resumed, and then its backlog is delivered oldest first. The pause is kept in
the store: it survives restarts and, on PostgreSQL, holds for every instance.

It works on the store directly, or with --admin-url through a running
serve's admin API.`,
	}
	open := backendFlags(cmd, env)
	var jsonOut bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List the destinations: state, backlog, oldest waiting delivery, last error",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			ds, err := b.Destinations(cmd.Context())
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(ds)
			}
			return printDestinations(env.Stdout, ds, time.Now())
		},
	}
	ls.Flags().BoolVar(&jsonOut, "json", false, "print the destinations as a JSON array")
	cmd.AddCommand(ls, pauseCommand(env, open, true), pauseCommand(env, open, false))
	return cmd
}

// pauseCommand is destinations pause (paused) or resume.
func pauseCommand(env Env, open func(*cobra.Command, storeUse) (backend, error), paused bool) *cobra.Command {
	c := &cobra.Command{
		Use:     "pause NAME",
		Short:   "Hold a destination's deliveries: its events are still received and stored",
		Example: "  hooklatch destinations pause app",
		Args:    args(cobra.ExactArgs(1)),
	}
	if !paused {
		c.Use, c.Short, c.Example = "resume NAME", "Deliver a paused destination's backlog, oldest first, and what comes next", "  hooklatch destinations resume app"
	}
	c.RunE = func(cmd *cobra.Command, a []string) error {
		b, err := open(cmd, changeStore)
		if err != nil {
			return err
		}
		defer b.Close()
		d, err := b.Pause(cmd.Context(), a[0], paused)
		if _, ok := errors.AsType[*ExitError](err); ok {
			return err
		}
		if err != nil {
			return failed(err)
		}
		_, err = fmt.Fprintf(env.Stdout, "%s: %s, %s waiting\n", d.Name, d.State, backlogCount(d))
		return err
	}
	return c
}

func backlogCount(d inspect.Destination) string {
	n := strconv.FormatInt(d.Pending, 10)
	if d.AtLeast {
		n += "+"
	}
	return n
}

func printDestinations(w io.Writer, ds []inspect.Destination, now time.Time) error {
	if len(ds) == 0 {
		_, err := fmt.Fprintln(w, "no destinations recorded: a serve records its destinations when it starts")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tBACKLOG\tOLDEST WAITING\tRATE\tCONCURRENCY\tLAST ERROR")
	for _, d := range ds {
		state := d.State
		if !d.OpenSince.IsZero() {
			state = "breaker open since " + d.OpenSince.Local().Format(time.RFC3339)
		}
		if !d.PausedSince.IsZero() {
			state += " since " + d.PausedSince.Local().Format(time.RFC3339)
		}
		oldest := "-"
		if !d.Oldest.IsZero() {
			oldest = d.Oldest.Local().Format(time.RFC3339)
			if age := now.Sub(d.Oldest); age > 0 {
				oldest += " (" + age.Truncate(time.Second).String() + " ago)"
			}
		}
		lastErr := d.LastError
		if lastErr == "" {
			lastErr = "-"
		}
		rate, concurrency := "none", "-"
		if d.Rate != "" {
			rate = d.Rate
		}
		if d.Concurrency > 0 {
			concurrency = strconv.Itoa(d.Concurrency) + " per instance"
			if d.ConcurrencyShared {
				concurrency = strconv.Itoa(d.Concurrency) + " shared"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, state, backlogCount(d), oldest, rate, concurrency, devtools.ClipString(lastErr, 60))
	}
	return tw.Flush()
}
