package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

func newEventsCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "List and inspect stored events; retry, replay or discard their deliveries",
		Long: `events works on the store directly (a running serve picks the changes up
within a second), or with --admin-url through a running serve's admin API,
from anywhere that reaches it: list events, show one with its deliveries
and every attempt, retry dead deliveries, replay an event to its
destinations, or discard deliveries that should not be tried again.

An event is named by its id, the end of its id (at least six characters,
such as the short id listen prints), or Sent's event id.`,
	}
	open := backendFlags(cmd, env)

	var (
		f            store.EventFilter
		since, until string
		cursor       string
		jsonOut      bool
	)
	states := strings.Join(store.DeliveryStates(), ", ")
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List events, newest first, with the state of their deliveries",
		Long: `ls lists events, newest first. DELIVERY says where each event's
deliveries are: the state of its only one (dead, pending, succeeded,
discarded; none when it has none), or for several how many are in each
state, the state that sums the event up first: "1 of 3 deliveries dead,
2 succeeded". --status S lists the events with a delivery in state S,
whatever their others are: --status dead lists the dead letters.

A filter checked event by event (--since, --until, --status succeeded or
none) searches a bounded stretch of the store at a time: when a stretch
ends before --limit events are found, ls says so and prints the --cursor
that goes on from there.`,
		Example: `  hooklatch events ls --status dead
  hooklatch events ls --type 'message.*' --since 1h --json
  HOOKLATCH_ADMIN_TOKEN=... hooklatch events ls --admin-url http://10.0.0.5:3001`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Delivery != "" && !slices.Contains(store.DeliveryStates(), string(f.Delivery)) {
				return usageError("--status %q: want one of %s", f.Delivery, states)
			}
			var err error
			if f.Since, f.Until, err = timeRange(since, until, time.Now()); err != nil {
				return err
			}
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			evs, next, err := listEvents(cmd.Context(), b, f, cursor)
			if err != nil {
				return err
			}
			if err := printEvents(env.Stdout, evs, jsonOut); err != nil || next == "" {
				return err
			}
			_, err = fmt.Fprintf(env.Stderr, "older events not searched yet: go on with --cursor %s\n", next)
			return err
		},
	}
	ls.Flags().StringVar(&f.Type, "type", "", "only this type, or a prefix pattern such as message.*")
	ls.Flags().StringVar(&f.Subject, "subject", "", "only events about this message, template or contact id")
	ls.Flags().StringVar(&f.Source, "source", "", "only events received on this source (sent, or a configured source's name)")
	timeFlags(ls, &since, &until)
	ls.Flags().StringVar((*string)(&f.Delivery), "status", "", "only events with a delivery in this state, whatever their others: "+states)
	ls.Flags().IntVar(&f.Limit, "limit", 50, "how many")
	ls.Flags().StringVar(&cursor, "cursor", "", "go on from where an earlier ls stopped searching (it prints the cursor)")
	ls.Flags().BoolVar(&jsonOut, "json", false, "print JSON lines")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show EVENT_ID",
		Short: "Show an event, its body, its deliveries and their attempts",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			d, err := b.Detail(cmd.Context(), a[0])
			if err != nil {
				return findError(a[0], err)
			}
			if showJSON {
				return printEventJSON(env.Stdout, d)
			}
			return printEventDetail(env.Stdout, d)
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print the event, its body, its deliveries and their attempts as one JSON object")

	cmd.AddCommand(ls, show,
		actionCommand(env, open, actionRetry, "retry [EVENT_ID...]", "requeued", "Try dead deliveries again, with a fresh attempt budget",
			"retry makes the dead deliveries of the named events (or, with --dead alone, every dead delivery) pending again, due now.",
			"no dead delivery ('events replay' delivers an event again whatever happened to it)"),
		actionCommand(env, open, actionReplay, "replay [EVENT_ID...]", "requeued", "Deliver events again to their destinations, whatever happened before",
			"replay makes every delivery of the named events pending again, due now, including those that succeeded,\n"+
				"to the destinations that want them as serve routes them now (their types, sources and filter).",
			"no delivery that can be requeued: none at all, or only ones being tried right now"),
		actionCommand(env, open, actionDiscard, "discard [EVENT_ID...]", "discarded", "Stop trying pending or dead deliveries",
			"discard marks the pending or dead deliveries of the named events discarded: they are kept, never tried again.",
			"no pending or dead delivery"),
		backfillCommand(env, open))
	return cmd
}

// timeFlags adds --since and --until to c.
func timeFlags(c *cobra.Command, since, until *string) {
	c.Flags().StringVar(since, "since", "", "only events received at or after this time: RFC 3339 (2026-01-02T10:00:00Z) or a duration ago (1h)")
	c.Flags().StringVar(until, "until", "", "only events received before this time: RFC 3339 or a duration ago")
}

// timeRange reads --since and --until as of now.
func timeRange(since, until string, now time.Time) (from, to time.Time, err error) {
	if from, err = inspect.ParseTime("--since", since, now); err != nil {
		return from, to, usageError("%v", err)
	}
	if to, err = inspect.ParseTime("--until", until, now); err != nil {
		return from, to, usageError("%v", err)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, usageError("--until %s is not after --since %s", until, since)
	}
	return from, to, nil
}

func printEventDetail(w io.Writer, d *inspect.Detail) error {
	ev := d.Event
	fmt.Fprintf(w, "event %s  %s  %s=%s  status %s\n", ev.ID, ev.Type, ev.SubjectKind, ev.Subject, ev.Status)
	fmt.Fprintf(w, "received %s (%s), dedupe key %s, %s\n", ev.ReceivedAt.Local().Format(time.RFC3339), ev.Scheme, ev.DedupeKey,
		devtools.Count(int(ev.Duplicates), "duplicate", "duplicates"))
	if ev.Attention != "" {
		fmt.Fprintf(w, "attention: %s\n", ev.Attention)
	}
	if len(d.FilteredOut) > 0 {
		fmt.Fprintf(w, "filtered out by %s\n", strings.Join(d.FilteredOut, ", "))
	}
	fmt.Fprintf(w, "%s\n", ev.Body)
	for _, tl := range d.Deliveries {
		d, as := tl.Delivery, tl.Attempts
		// The timeline counts every attempt of the delivery's life;
		// the budget (d.Attempts) restarts with each retry or replay.
		fmt.Fprintf(w, "\ndelivery %d to %s: %s, %s", d.ID, d.Destination, d.Status, devtools.Count(len(as), "attempt", "attempts"))
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
}

// backfillCommand is `events backfill`: events stored before a
// destination existed (or wanted their type) delivered to it.
func backfillCommand(env Env, open func(*cobra.Command, storeUse) (backend, error)) *cobra.Command {
	var (
		to, from, typ string
		since         time.Duration
		all           bool
	)
	c := &cobra.Command{
		Use:   "backfill --to DESTINATION (--since DURATION | --from EVENT_ID | --all)",
		Short: "Deliver events stored before a destination was added to it",
		Long: `backfill gives the events stored before a destination was configured (or
before it wanted their type) a delivery to it, due now: serve delivers them
with retries like any other. Only the events the destination wants, as serve
routes them (its types, sources and filter), get one. Events that already
have a delivery to it are left as they are ('events replay' delivers those
again). --to names a destination of the serve that keeps the store; --since,
--from or --all says where to start.`,
		Example: `  hooklatch events backfill --to forward --since 24h
  hooklatch events backfill --to forward --from 3c4d5e6f --type 'message.*'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return usageError("--to: name the destination to backfill")
			}
			starts := 0
			for _, set := range []bool{since > 0, from != "", all} {
				if set {
					starts++
				}
			}
			if starts != 1 {
				return usageError("say where to start with one of --since, --from or --all")
			}
			b, err := open(cmd, changeStore)
			if err != nil {
				return err
			}
			defer b.Close()
			q := inspect.Query{Filter: store.EventFilter{Type: typ}}
			switch {
			case since > 0:
				q.Filter.Since = time.Now().Add(-since)
			case from != "":
				evs, err := findEvents(cmd.Context(), b, []string{from})
				if err != nil {
					return err
				}
				q.Filter.Since = evs[0].ReceivedAt
			}
			n, err := b.Backfill(cmd.Context(), to, q)
			if _, ok := errors.AsType[*ExitError](err); ok {
				return err
			}
			if err != nil {
				return failed(err)
			}
			_, err = fmt.Fprintf(env.Stdout, "%s to %s created\n", devtools.Count(n, "delivery", "deliveries"), to)
			return err
		},
	}
	c.Flags().StringVar(&to, "to", "", "the destination, as serve names it (--forward-to: forward)")
	c.Flags().DurationVar(&since, "since", 0, "events received within this long, e.g. 24h")
	c.Flags().StringVar(&from, "from", "", "this event and every one received after it")
	c.Flags().BoolVar(&all, "all", false, "every stored event")
	c.Flags().StringVar(&typ, "type", "", "only this type, or a prefix pattern such as message.*")
	return c
}

// listEvents returns the f.Limit newest events f selects from cursor on,
// however many pages that takes, and the cursor to go on from when it
// stopped short. A filter the store tests event by event (a time range,
// succeeded or none) searches a bounded stretch of the store per page
// (inspect.List): listEvents stops after a stretch that did not fill its
// page, so that its cost does not grow with the store.
func listEvents(ctx context.Context, b backend, f store.EventFilter, cursor string) ([]store.Event, string, error) {
	want := f.Limit
	q := inspect.Query{Filter: f, Cursor: cursor}
	var evs []store.Event
	for {
		if want > 0 {
			// A page the admin API gives whole, so that a shorter one is
			// a stretch that ended short.
			q.Filter.Limit = min(want-len(evs), apiPageMax)
		}
		asked := q.Filter.Limit
		page, err := b.List(ctx, q)
		if err != nil {
			return nil, "", err
		}
		evs = append(evs, page.Events...)
		if page.Next == "" || len(evs) >= want {
			return evs, "", nil
		}
		if len(page.Events) < asked {
			return evs, page.Next, nil
		}
		q.Cursor = page.Next
	}
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

// listedEvent is a line of `events ls --json`: the event and its delivery
// state.
type listedEvent struct {
	*store.Event
	Delivery store.DeliveryStatus `json:"delivery"`
}

func printEvents(w io.Writer, evs []store.Event, jsonOut bool) error {
	if jsonOut {
		lines := make([]listedEvent, len(evs))
		for i := range evs {
			lines[i] = listedEvent{&evs[i], evs[i].DeliveryState()}
		}
		return writeJSONLines(w, lines)
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "no events")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tTYPE\tSUBJECT\tSTATUS\tDELIVERY\tDUPS\tNOTE")
	for _, ev := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", ev.ID, ev.ReceivedAt.Local().Format(time.DateTime), ev.Type, ev.Subject, ev.Status,
			ev.DeliveryText(), ev.Duplicates, ev.Attention)
	}
	return tw.Flush()
}

// shownEvent is `events show --json`: the event with its body (as JSON
// when it is JSON, else as text), and its deliveries with their attempts.
type shownEvent struct {
	*store.Event
	Body       any                  `json:"body"`
	Delivery   store.DeliveryStatus `json:"delivery"`
	Deliveries []inspect.Timeline   `json:"deliveries"`
	// FilteredOut: through --admin-url, the destinations whose filter
	// keeps the event out.
	FilteredOut []string `json:"filtered_out,omitempty"`
}

func printEventJSON(w io.Writer, d *inspect.Detail) error {
	out := shownEvent{Event: d.Event, Body: string(d.Event.Body), Delivery: d.State, Deliveries: d.Deliveries, FilteredOut: d.FilteredOut}
	if json.Valid(d.Event.Body) {
		out.Body = json.RawMessage(d.Event.Body)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
