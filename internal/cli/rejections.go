package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

func newRejectionsCommand(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rejections",
		Short: "Inspect requests that failed verification, and release them once fixed",
		Long: `Every request that fails signature verification is answered 401 and counted
by reason. A sample of each reason is kept, with a diagnosis, in a bounded log
(each reason drops its own oldest first, so a flood of one cannot evict the
others); a large body is kept only in part, with its length and SHA-256.
After fixing the cause (usually the secret), 'release' verifies the kept
requests again with the current secrets and stores those that pass as events.

They work on the store directly, or with --admin-url through a running
serve's admin API, from anywhere that reaches it.`,
	}
	open := backendFlags(cmd, env)

	var jsonOut bool
	var limit int
	ls := &cobra.Command{
		Use:   "ls",
		Short: "Count rejections by reason, and list the kept ones, newest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 {
				return usageError("--limit %d: want at least 1", limit)
			}
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			rs, err := b.Rejections(cmd.Context(), limit)
			if err != nil {
				return err
			}
			return printRejections(env.Stdout, rs.Counts, rs.Rejections, jsonOut)
		},
	}
	ls.Flags().BoolVar(&jsonOut, "json", false, `print one JSON object: {"counts": [...], "rejections": [...]}`)
	ls.Flags().IntVar(&limit, "limit", 50, "how many to list")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one rejection: reason, diagnosis, headers and body",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := strconv.ParseInt(a[0], 10, 64)
			if err != nil {
				return usageError("rejection id %q: want a number from 'hooklatch rejections ls'", a[0])
			}
			b, err := open(cmd, readStore)
			if err != nil {
				return err
			}
			defer b.Close()
			r, err := b.Rejection(cmd.Context(), id)
			if errors.Is(err, store.ErrNotFound) {
				return failed(fmt.Errorf("no rejection %d (it may have been dropped to stay within the log's caps)", id))
			}
			if err != nil {
				return err
			}
			return printRejection(env.Stdout, r, jsonOut)
		},
	}
	show.Flags().BoolVar(&jsonOut, "json", false, "print JSON, with the body base64-encoded")

	var all bool
	var configPath string
	release := &cobra.Command{
		Use:   "release [ID...]",
		Short: "Verify kept rejections again with the current secrets and store those that pass",
		Long: `release verifies each rejection again with the current secrets, judging the
timestamp as of when the request arrived, and stores those that now pass as
events, exactly as if they had been accepted then (a duplicate stays one event).
Those that still fail stay in the log, and the diagnosis says why. A rejection
whose body was kept only in part cannot be verified, so it is never released
(--all passes over those).

Rejections of other providers' sources are verified by their source as
serve's config file (--config) describes it, with its secrets.

Through --admin-url, the serve verifies them with its own secrets: fix the
secret in serve's configuration and restart it, then release.`,
		Example: `  SENT_WEBHOOK_SECRET=whsec_new... hooklatch rejections release --all
  hooklatch rejections release 12 13 --secret whsec_...
  HOOKLATCH_SOURCE_PAYMENTS_SECRET=whsec_new... hooklatch rejections release --all --config hooklatch.yaml`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) {
				return usageError("name rejection ids, or pass --all")
			}
			ids := make([]int64, 0, len(a))
			for _, s := range a {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageError("rejection id %q: want a number from 'hooklatch rejections ls'", s)
				}
				ids = append(ids, id)
			}
			b, err := open(cmd, changeStore)
			if err != nil {
				return err
			}
			defer b.Close()
			var secrets []signature.Secret
			switch {
			case b.Remote():
				if cmd.Flags().Changed("secret") || configPath != "" {
					return usageError("--secret, --config: through --admin-url, serve verifies with its own secrets (set them in its configuration and restart it)")
				}
			case configPath != "":
				if secrets, err = releaseSources(cmd.Flags(), b, configPath, env.Getenv); err != nil {
					return err
				}
			default:
				if secrets, err = secretsFrom(cmd.Flags(), env.Getenv); err != nil {
					return err
				}
			}
			return release(cmd.Context(), env.Stdout, b, secrets, ids)
		},
	}
	release.Flags().BoolVar(&all, "all", false, "release every kept rejection not yet released")
	release.Flags().StringVar(&configPath, "config", "", "serve's config file: its sources verify their rejections, and its secret Sent's")
	addSecretFlags(release)

	cmd.AddCommand(ls, show, release)
	return cmd
}

// RunRelease releases the rejections ids (all unreleased ones when ids is
// empty) that verify with secrets. It fails when any still does not, or
// when one named cannot be verified (its body was kept only in part).
func RunRelease(ctx context.Context, out io.Writer, st store.Store, secrets []signature.Secret, ids []int64) error {
	return release(ctx, out, newStoreBackend(st), secrets, ids)
}

func release(ctx context.Context, out io.Writer, b backend, secrets []signature.Secret, ids []int64) error {
	rep, err := b.Release(ctx, secrets, ids)
	for _, o := range rep.Outcomes {
		switch o.Result {
		case inspect.AlreadyReleased:
			fmt.Fprintf(out, "rejection %d: already released as event %s\n", o.ID, o.EventID)
		case inspect.KeptInPart:
			fmt.Fprintf(out, "rejection %d: cannot be verified: only the first %s of its %s body were kept, so it is not released\n",
				o.ID, humanize.IBytes(uint64(o.KeptBytes)), humanize.IBytes(uint64(o.BodyBytes)))
		case inspect.StillFailing:
			fmt.Fprintf(out, "rejection %d: still fails (%s)\n%s\n", o.ID, o.Reason, indent(o.Diagnosis))
		default:
			what := "stored as event " + o.EventID
			if o.Result == inspect.ReleasedAsDup {
				what = "a duplicate of event " + o.EventID + " (nothing new stored)"
			}
			fmt.Fprintf(out, "rejection %d: verified with secret %d (%s), %s\n", o.ID, o.SecretIndex+1, o.Scheme, what)
		}
	}
	if secErr, ok := errors.AsType[*inspect.SecretsError](err); ok {
		return usageError("%v", secErr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d released, %d still failing", rep.Released, rep.StillFailing)
	if n := rep.Unverifiable + rep.InPart; n > 0 {
		fmt.Fprintf(out, ", %d cannot be verified (body kept in part)", n)
	}
	fmt.Fprintln(out)
	if rep.StillFailing > 0 {
		return failed(fmt.Errorf("not released: %d still failing verification", rep.StillFailing))
	}
	if rep.Unverifiable > 0 {
		return failed(fmt.Errorf("%d rejection(s) cannot be verified: their bodies were kept only in part", rep.Unverifiable))
	}
	return nil
}

func indent(s string) string {
	out := []byte("  ")
	for i := 0; i < len(s); i++ {
		out = append(out, s[i])
		if s[i] == '\n' && i+1 < len(s) {
			out = append(out, ' ', ' ')
		}
	}
	return string(out)
}

func printRejections(w io.Writer, counts []store.RejectionCount, rs []store.Rejection, jsonOut bool) error {
	if jsonOut {
		if counts == nil {
			counts = []store.RejectionCount{}
		}
		if rs == nil {
			rs = []store.Rejection{}
		}
		return json.NewEncoder(w).Encode(struct {
			Counts     []store.RejectionCount `json:"counts"`
			Rejections []store.Rejection      `json:"rejections"`
		}{counts, rs})
	}
	if len(counts) == 0 && len(rs) == 0 {
		_, err := fmt.Fprintln(w, "no rejections")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tSOURCE\tREJECTED\tKEPT\tFIRST\tLAST")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", c.Reason, c.Source, c.Count, c.Kept,
			c.FirstAt.Local().Format(time.DateTime), c.LastAt.Local().Format(time.DateTime))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rs) == 0 {
		_, err := fmt.Fprintln(w, "\nno rejections kept")
		return err
	}
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "ID\tRECEIVED\tREASON\tFROM\tBODY\tRELEASED")
	for _, r := range rs {
		released := "-"
		if !r.ReleasedAt.IsZero() {
			released = "event " + r.EventID
		}
		body := humanize.IBytes(uint64(r.BodyBytes))
		if r.Truncated {
			body += " (kept in part)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.ReceivedAt.Local().Format(time.DateTime), r.Reason, r.RemoteAddr, body, released)
	}
	return tw.Flush()
}

func printRejection(w io.Writer, r *store.Rejection, jsonOut bool) error {
	if jsonOut {
		type withBody struct {
			*store.Rejection
			Body []byte `json:"body"`
		}
		return json.NewEncoder(w).Encode(withBody{r, r.Body})
	}
	fmt.Fprintf(w, "rejection %d from %s at %s\n", r.ID, r.RemoteAddr, r.ReceivedAt.Local().Format(time.RFC3339))
	fmt.Fprintf(w, "reason:    %s\ndetail:    %s\n", r.Reason, r.Detail)
	if !r.ReleasedAt.IsZero() {
		fmt.Fprintf(w, "released:  %s as event %s\n", r.ReleasedAt.Local().Format(time.RFC3339), r.EventID)
	}
	fmt.Fprintf(w, "diagnosis:\n%s\n", indent(r.Diagnosis))
	fmt.Fprintln(w, "headers:")
	names := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s: %s\n", k, r.Headers[k])
	}
	const shown = 4 << 10
	switch {
	case r.Truncated:
		fmt.Fprintf(w, "body (%s, sha256 %s), kept in part: it cannot be verified again or released; its first %s:\n",
			humanize.IBytes(uint64(r.BodyBytes)), r.BodySHA256, humanize.IBytes(uint64(len(r.Body))))
	case r.BodySHA256 != "":
		fmt.Fprintf(w, "body (%s, sha256 %s):\n", humanize.IBytes(uint64(len(r.Body))), r.BodySHA256)
	default:
		fmt.Fprintf(w, "body (%s):\n", humanize.IBytes(uint64(len(r.Body))))
	}
	body := r.Body
	if len(body) > shown {
		body = body[:shown]
	}
	fmt.Fprintf(w, "%s\n", body)
	if len(r.Body) > shown {
		fmt.Fprintf(w, "… %d more bytes (use --json for all of it)\n", len(r.Body)-shown)
	}
	return nil
}
