package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/devtools"
	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/store"
)

func newSubjectsCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "subjects",
		Short: "Show the latest state of a message, template or other subject",
		Long: `Webhooks may arrive out of order: a message's DELIVERED before its SENT.
The store keeps each subject's latest state by Sent's lifecycle order
(docs/ordering.md): the status of highest rank received so far, whatever
order the events came in. subjects show prints it with the subject's
events, newest first, marking those that arrived stale (a later state of the
subject had been received before them).

It works on the store directly, or with --admin-url through a running
serve's admin API.`,
	}
	open := backendFlags(cmd, env)
	var (
		source  string
		jsonOut bool
	)
	show := &cobra.Command{
		Use:   "show SUBJECT_ID",
		Short: "Show a subject's latest state and its events, newest first",
		Example: `  hooklatch subjects show 9a6c1f8e-2b7d-4e51-8f3a-0c2d9e4b7a15
  hooklatch subjects show tpl_welcome --source sent --json`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			d, err := b.Subject(cmd.Context(), source, a[0])
			if errors.Is(err, store.ErrNotFound) {
				return failed(fmt.Errorf("no subject %s in source %s (its events name it: 'hooklatch events ls' lists them)", strings.TrimSpace(a[0]), orDefault(source)))
			}
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			return printSubject(env.Stdout, d)
		},
	}
	show.Flags().StringVar(&source, "source", "", "the source its events came in on (default "+inspect.DefaultSubjectSource+")")
	show.Flags().BoolVar(&jsonOut, "json", false, "print the state and the events as one JSON object")
	cmd.AddCommand(show)
	return cmd
}

func orDefault(source string) string {
	if source == "" {
		return inspect.DefaultSubjectSource
	}
	return source
}

func printSubject(w io.Writer, d *inspect.SubjectDetail) error {
	st := d.State
	fmt.Fprintf(w, "subject %s=%s (source %s): %s, rank %d\n", st.Kind, st.Subject, st.Source, st.Status, st.Rank)
	fmt.Fprintf(w, "set by event %s", st.EventID)
	if !st.OccurredAt.IsZero() {
		fmt.Fprintf(w, ", reached %s", st.OccurredAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintf(w, ", received %s; %s\n", st.ReceivedAt.Local().Format(time.RFC3339), devtools.Count(int(st.Events), "event", "events"))
	if len(d.Events) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nevents, newest first (stale: a later state had been received before it):")
	for _, ev := range d.Events {
		occurred := "-"
		if !ev.OccurredAt.IsZero() {
			occurred = ev.OccurredAt.Local().Format(time.RFC3339)
		}
		mark := ""
		if ev.Stale {
			mark = "  stale"
		}
		fmt.Fprintf(w, "  %s  %-10s rank %d  reached %s  %s%s\n", ev.ReceivedAt.Local().Format(time.RFC3339), ev.Status, ev.Rank,
			occurred, ev.ID, mark)
	}
	if d.More {
		fmt.Fprintf(w, "  … older events not shown ('hooklatch events ls --subject %s' lists them all)\n", st.Subject)
	}
	return nil
}
