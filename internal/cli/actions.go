package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

// A filtered action counts its events up to countCap, as the dashboard's
// confirmation and the API's dry run do (their cost then stays the same
// however many match), and acts by batches as large as the API's own bulk
// action takes (inspect.Inspector.Each).
const (
	countCap    = 1000
	actionBatch = 500
)

// actionCommand is `events retry`, `replay` or `discard`: on the
// deliveries of the events named, of the events a filter selects, or on
// every dead delivery (--dead alone).
func actionCommand(env Env, open func(*cobra.Command, storeUse) (backend, error), action, use, done, short, long, nothing string) *cobra.Command {
	var (
		destination, since, until, typ, status string
		deadOnly, yes, dryRun                  bool
	)
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Long: long + `

--since, --until, --type and --status select the events instead of ids. The
command first counts them, then asks before it acts (--yes acts without
asking, --dry-run only counts), and acts on those counted, a batch at a
time: events stored meanwhile are left out.`,
		Example: fmt.Sprintf(`  hooklatch events %[1]s --since 2026-01-02T10:00:00Z --until 2026-01-02T10:30:00Z --dry-run
  hooklatch events %[1]s --since 2h --type 'message.*' --status dead --yes
  HOOKLATCH_ADMIN_TOKEN=... hooklatch events %[1]s --admin-url http://10.0.0.5:3001 --since 1h --yes`, action),
		RunE: func(cmd *cobra.Command, a []string) error {
			filtered := since != "" || until != "" || typ != "" || status != ""
			switch {
			case filtered && len(a) > 0:
				return usageError("name event ids or select events with --since, --until, --type or --status, not both")
			case !filtered && len(a) == 0 && !deadOnly:
				return usageError("name event ids, select events with --since, --until, --type or --status, or pass --dead for every dead delivery")
			case !filtered && (yes || dryRun):
				return usageError("--yes and --dry-run go with a filter (--since, --until, --type or --status)")
			case yes && dryRun:
				return usageError("--yes or --dry-run, not both")
			}
			t := inspect.Target{Dead: deadOnly, Destination: destination}
			if !filtered {
				b, err := open(cmd, changeStore)
				if err != nil {
					return err
				}
				defer b.Close()
				evs, err := findEvents(cmd.Context(), b, a)
				if err != nil {
					return err
				}
				for _, ev := range evs {
					t.EventIDs = append(t.EventIDs, ev.ID)
				}
				n, err := b.Act(cmd.Context(), action, t)
				if err != nil {
					return err
				}
				return printActed(env.Stdout, n, len(evs), done, nothing)
			}

			if status != "" && !slices.Contains(store.DeliveryStates(), status) {
				return usageError("--status %q: want one of %s", status, strings.Join(store.DeliveryStates(), ", "))
			}
			q := inspect.Query{Filter: store.EventFilter{Type: typ, Delivery: store.DeliveryStatus(status)}}
			var err error
			if q.Filter.Since, q.Filter.Until, err = timeRange(since, until, time.Now()); err != nil {
				return err
			}
			// Only dead deliveries are touched: the events with one are
			// those whose deliveries read dead, found through their index.
			if status == "" && (action == actionRetry || deadOnly) {
				q.Filter.Delivery = store.DeliveryDead
			}
			use := changeStore
			if dryRun {
				use = readStore
			}
			b, err := open(cmd, use)
			if err != nil {
				return err
			}
			defer b.Close()
			c, newest, err := countEvents(cmd.Context(), b, action, q)
			if err != nil {
				return err
			}
			n, counted := c.N, countedEvents(c)
			fmt.Fprintf(env.Stdout, "%s %s\n", counted, describeFilter(q.Filter))
			if n == 0 && !c.Partial {
				_, err := fmt.Fprintf(env.Stdout, "nothing to %s\n", action)
				return err
			}
			if dryRun {
				many := n
				if c.More || c.Partial {
					many = 2
				}
				_, err := fmt.Fprintf(env.Stdout, "dry run: nothing done; --yes to %s %s\n", action, devtools.Plural(many, "its deliveries", "their deliveries"))
				return err
			}
			if !yes {
				if err := confirm(env, fmt.Sprintf("%s the deliveries of %s?", capitalize(action), counted),
					fmt.Sprintf("pass --yes to %s them, or --dry-run to only count them", action)); err != nil {
					return err
				}
			}
			q.Cursor = inspect.CursorAt(newest)
			touched, err := actOnEach(cmd.Context(), b, action, q, t)
			if err != nil {
				return fmt.Errorf("%s %s before: %w", devtools.Count(touched, "delivery", "deliveries"), done, err)
			}
			return printActed(env.Stdout, touched, n, done, nothing)
		},
	}
	c.Flags().StringVar(&destination, "destination", "", "only deliveries to this destination")
	c.Flags().BoolVar(&deadOnly, "dead", false, "only dead deliveries (with no ids nor filter: every dead delivery)")
	timeFlags(c, &since, &until)
	c.Flags().StringVar(&typ, "type", "", "only events of this type, or a prefix pattern such as message.*")
	c.Flags().StringVar(&status, "status", "", "only events whose deliveries are in this state, as 'events ls' shows it: "+strings.Join(store.DeliveryStates(), ", "))
	c.Flags().BoolVar(&yes, "yes", false, "with a filter: act without asking")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "with a filter: only count the events it selects")
	return c
}

func printActed(w io.Writer, n, events int, done, nothing string) error {
	line := devtools.Count(n, "delivery", "deliveries") + " " + done
	if n == 0 && events > 0 {
		line += ": " + devtools.Plural(events, "the event has", "the events have") + " " + nothing
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// countEvents counts the events q selects, up to countCap, without
// reading them (the store's index, or the serve's dry run), and returns
// the seq of the newest event stored: the action leaves out those stored
// after the count.
func countEvents(ctx context.Context, b backend, action string, q inspect.Query) (inspect.Count, int64, error) {
	p, err := b.List(ctx, inspect.Query{Filter: store.EventFilter{Limit: 1}})
	if err != nil || len(p.Events) == 0 {
		return inspect.Count{}, 0, err
	}
	c, err := b.Count(ctx, action, q, countCap)
	return c, p.Events[0].Seq, err
}

// countedEvents says how many events a count found: "3 events", "more
// than 1000 events", or "at least 12 events" when it stopped before the
// oldest.
func countedEvents(c inspect.Count) string {
	n := devtools.Count(c.N, "event", "events")
	switch {
	case c.More:
		n = "more than " + n
	case c.Partial:
		n = "at least " + n
	}
	return n
}

// actOnEach runs action on the deliveries t narrows of every event q
// selects from q.Cursor on, a batch of events at a time, and returns how
// many deliveries it touched. Each batch is one call, on the store or the
// admin API, so that however many events the filter selects, no call
// grows with them.
func actOnEach(ctx context.Context, b backend, action string, q inspect.Query, t inspect.Target) (int, error) {
	q.Filter.Limit = actionBatch
	return inspect.Walk(ctx, b.List, q, func(evs []store.Event) (int, error) {
		t.EventIDs = t.EventIDs[:0]
		for _, ev := range evs {
			t.EventIDs = append(t.EventIDs, ev.ID)
		}
		return b.Act(ctx, action, t)
	})
}

// describeFilter says what f selects: "match: received from … until …,
// type …, deliveries dead".
func describeFilter(f store.EventFilter) string {
	var parts []string
	switch {
	case !f.Since.IsZero() && !f.Until.IsZero():
		parts = append(parts, "received from "+f.Since.Local().Format(time.RFC3339)+" until "+f.Until.Local().Format(time.RFC3339))
	case !f.Since.IsZero():
		parts = append(parts, "received since "+f.Since.Local().Format(time.RFC3339))
	case !f.Until.IsZero():
		parts = append(parts, "received before "+f.Until.Local().Format(time.RFC3339))
	}
	if f.Type != "" {
		parts = append(parts, "type "+f.Type)
	}
	if f.Delivery != "" {
		parts = append(parts, "deliveries "+string(f.Delivery))
	}
	return "match: " + strings.Join(parts, ", ")
}

// errNotConfirmed is the answer to a question not answered yes.
var errNotConfirmed = errors.New("not confirmed: nothing done")

// confirm asks question on the terminal and wants yes. Without a
// terminal to ask on, it fails saying how to go on (hint).
func confirm(env Env, question, hint string) error {
	f, ok := env.Stdin.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return usageError("%s: no terminal to ask on", hint)
	}
	fmt.Fprintf(env.Stderr, "%s [y/N] ", question)
	answer, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return failed(errNotConfirmed)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
