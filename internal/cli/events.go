package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/store"
)

func newEventsCommand(env Env, logger func() (*slog.Logger, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List and inspect stored events; retry, replay or discard their deliveries",
		Long: `events works on the store directly (a running serve picks the changes up
within a second): list events, show one with its deliveries and every
attempt, retry dead deliveries, replay an event to its destinations, or
discard deliveries that should not be tried again.`,
	}
	openStore := storeFlag(cmd, env, logger)

	var (
		f       store.EventFilter
		since   time.Duration
		jsonOut bool
	)
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List events, newest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			f.BeforeSeq = 1 << 62 // newest first
			evs, err := st.ListEvents(cmd.Context(), f)
			if err != nil {
				return err
			}
			return printEvents(env.Stdout, evs, jsonOut)
		},
	}
	ls.Flags().StringVar(&f.Type, "type", "", "only this type, or a prefix pattern such as message.*")
	ls.Flags().StringVar(&f.Subject, "subject", "", "only events about this message, template or contact id")
	ls.Flags().DurationVar(&since, "since", 0, "only events received within this long, e.g. 1h")
	ls.Flags().IntVar(&f.Limit, "limit", 50, "how many")
	ls.Flags().BoolVar(&jsonOut, "json", false, "print JSON lines")

	show := &cobra.Command{
		Use:   "show EVENT_ID",
		Short: "Show an event, its body, its deliveries and their attempts",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			st, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			ev, err := st.GetEvent(cmd.Context(), a[0])
			if errors.Is(err, store.ErrNotFound) {
				return failed(fmt.Errorf("no event %s", a[0]))
			}
			if err != nil {
				return err
			}
			ds, err := st.ListDeliveries(cmd.Context(), store.DeliveryFilter{EventID: ev.ID})
			if err != nil {
				return err
			}
			w := env.Stdout
			fmt.Fprintf(w, "event %s  %s  %s=%s  status %s\n", ev.ID, ev.Type, ev.SubjectKind, ev.Subject, ev.Status)
			fmt.Fprintf(w, "received %s (%s), dedupe key %s, %d duplicate(s)\n", ev.ReceivedAt.Local().Format(time.RFC3339), ev.Scheme, ev.DedupeKey, ev.Duplicates)
			if ev.Attention != "" {
				fmt.Fprintf(w, "attention: %s\n", ev.Attention)
			}
			fmt.Fprintf(w, "%s\n", ev.Body)
			for _, d := range ds {
				as, err := st.ListAttempts(cmd.Context(), d.ID)
				if err != nil {
					return err
				}
				// The timeline counts every attempt of the delivery's life;
				// the budget (d.Attempts) restarts with each retry or replay.
				fmt.Fprintf(w, "\ndelivery %d to %s: %s, %s", d.ID, d.Destination, d.Status, attemptCount(len(as)))
				if len(as) != d.Attempts {
					fmt.Fprintf(w, " (%d counted against its budget)", d.Attempts)
				}
				if d.Status == store.DeliveryPending {
					fmt.Fprintf(w, ", next at %s", d.NextAttemptAt.Local().Format(time.RFC3339))
				}
				fmt.Fprintln(w)
				for _, at := range as {
					fmt.Fprintf(w, "  #%d %s  %-10s %4s  %8s  %s\n", at.Attempt, at.StartedAt.Local().Format(time.TimeOnly), at.Outcome,
						statusCode(at.StatusCode), at.Duration.Round(time.Millisecond), oneLine([]byte(at.Error), 120))
				}
			}
			return nil
		},
	}

	var (
		destination string
		deadOnly    bool
	)
	bulk := func(use, done, short, long string, run func(st store.Store, cmd *cobra.Command, sel store.DeliverySelector) (int, error)) *cobra.Command {
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Long:  long,
			RunE: func(cmd *cobra.Command, a []string) error {
				sel := store.DeliverySelector{Destination: destination, EventIDs: a}
				if deadOnly {
					sel.Statuses = []string{store.DeliveryDead}
				}
				if len(a) == 0 && !deadOnly {
					return usageError("name event ids, or pass --dead for every dead delivery")
				}
				st, err := openStore(cmd)
				if err != nil {
					return err
				}
				defer st.Close()
				n, err := run(st, cmd, sel)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%d deliveries %s\n", n, done)
				return nil
			},
		}
		c.Flags().StringVar(&destination, "destination", "", "only deliveries to this destination")
		c.Flags().BoolVar(&deadOnly, "dead", false, "only dead deliveries (with no ids: every dead delivery)")
		return c
	}
	retry := bulk("retry [EVENT_ID...]", "requeued", "Try dead deliveries again, with a fresh attempt budget",
		"retry makes the dead deliveries of the named events (or, with --dead alone, every dead delivery) pending again, due now.",
		func(st store.Store, cmd *cobra.Command, sel store.DeliverySelector) (int, error) {
			sel.Statuses = []string{store.DeliveryDead}
			return st.Requeue(cmd.Context(), sel, time.Now())
		})
	replay := bulk("replay EVENT_ID...", "requeued", "Deliver events again to their destinations, whatever happened before",
		"replay makes every delivery of the named events pending again, due now, including those that succeeded.",
		func(st store.Store, cmd *cobra.Command, sel store.DeliverySelector) (int, error) {
			return st.Requeue(cmd.Context(), sel, time.Now())
		})
	discard := bulk("discard [EVENT_ID...]", "discarded", "Stop trying pending or dead deliveries",
		"discard marks the pending or dead deliveries of the named events discarded: they are kept, never tried again.",
		func(st store.Store, cmd *cobra.Command, sel store.DeliverySelector) (int, error) {
			return st.Discard(cmd.Context(), sel, time.Now())
		})
	cmd.AddCommand(ls, show, retry, replay, discard)
	return cmd
}

func attemptCount(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return strconv.Itoa(n) + " attempts"
}

func statusCode(c int) string {
	if c == 0 {
		return "-"
	}
	return strconv.Itoa(c)
}

// writeJSONLines prints one JSON document per line.
func writeJSONLines[T any](w io.Writer, items []T) error {
	enc := json.NewEncoder(w)
	for _, it := range items {
		if err := enc.Encode(it); err != nil {
			return err
		}
	}
	return nil
}

func printEvents(w io.Writer, evs []store.Event, jsonOut bool) error {
	if jsonOut {
		return writeJSONLines(w, evs)
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tTYPE\tSUBJECT\tSTATUS\tDUPS\tNOTE")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", ev.ID, ev.ReceivedAt.Local().Format(time.DateTime), ev.Type, ev.Subject, ev.Status, ev.Duplicates, ev.Attention)
	}
	return tw.Flush()
}
