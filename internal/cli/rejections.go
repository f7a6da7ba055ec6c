package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/receiver"
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
requests again with the current secrets and stores those that pass as events.`,
	}
	openStore := storeFlag(cmd, env)

	var jsonOut bool
	var limit int
	ls := &cobra.Command{
		Use:   "ls",
		Short: "Count rejections by reason, and list the kept ones, newest first",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(cmd, readStore)
			if err != nil {
				return err
			}
			defer st.Close()
			counts, err := st.RejectionCounts(cmd.Context())
			if err != nil {
				return err
			}
			rs, err := st.ListRejections(cmd.Context(), limit)
			if err != nil {
				return err
			}
			return printRejections(env.Stdout, counts, rs, jsonOut)
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
			st, err := openStore(cmd, readStore)
			if err != nil {
				return err
			}
			defer st.Close()
			r, err := st.GetRejection(cmd.Context(), id)
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
	release := &cobra.Command{
		Use:   "release [ID...]",
		Short: "Verify kept rejections again with the current secrets and store those that pass",
		Long: `release verifies each rejection again with the current secrets, judging the
timestamp as of when the request arrived, and stores those that now pass as
events, exactly as if they had been accepted then (a duplicate stays one event).
Those that still fail stay in the log, and the diagnosis says why. A rejection
whose body was kept only in part cannot be verified, so it is never released
(--all passes over those).`,
		Example: `  SENT_WEBHOOK_SECRET=whsec_new... hooklatch rejections release --all
  hooklatch rejections release 12 13 --secret whsec_...`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if all == (len(a) > 0) {
				return usageError("name rejection ids, or pass --all")
			}
			secrets, err := secretsFrom(cmd.Flags(), env.Getenv)
			if err != nil {
				return err
			}
			st, err := openStore(cmd, changeStore)
			if err != nil {
				return err
			}
			defer st.Close()
			ids := make([]int64, 0, len(a))
			for _, s := range a {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return usageError("rejection id %q: want a number from 'hooklatch rejections ls'", s)
				}
				ids = append(ids, id)
			}
			return RunRelease(cmd.Context(), env.Stdout, st, secrets, ids)
		},
	}
	release.Flags().BoolVar(&all, "all", false, "release every kept rejection not yet released")
	addSecretFlags(release)

	cmd.AddCommand(ls, show, release)
	return cmd
}

// RunRelease releases the rejections ids (all unreleased ones when ids is
// empty) that verify with secrets. It fails when any still does not, or
// when one named cannot be verified (its body was kept only in part).
func RunRelease(ctx context.Context, out io.Writer, st store.Store, secrets []signature.Secret, ids []int64) error {
	// Kept in part, a rejection can never be verified: --all passes over
	// those (inPart), one named is an error (unverifiable).
	var inPart, unverifiable int
	if len(ids) == 0 {
		rs, err := st.ListRejections(ctx, 1<<30)
		if err != nil {
			return err
		}
		for _, r := range rs {
			switch {
			case r.Truncated:
				inPart++
			case r.ReleasedAt.IsZero():
				ids = append(ids, r.ID)
			}
		}
		slices.Sort(ids) // oldest first, as they arrived
	}
	// Released events go where received ones go: to the routes the store's
	// serve (or listen) recorded when it started.
	recorded, known, err := st.Routes(ctx)
	if err != nil {
		return err
	}
	routes := dispatch.StoredRoutes(recorded)
	if !known {
		return fmt.Errorf("this store has no record of where serve delivers its events (it was last served by an older hooklatch), so released events would go nowhere: run hooklatch serve on it once, then release")
	}
	var released, stillFailing int
	for _, id := range ids {
		r, err := st.GetRejection(ctx, id)
		if err != nil {
			return fmt.Errorf("rejection %d: %w", id, err)
		}
		if !r.ReleasedAt.IsZero() {
			fmt.Fprintf(out, "rejection %d: already released as event %s\n", id, r.EventID)
			continue
		}
		if r.Truncated {
			unverifiable++
			fmt.Fprintf(out, "rejection %d: cannot be verified: only the first %s of its %s body were kept, so it is not released\n",
				id, humanize.IBytes(uint64(len(r.Body))), humanize.IBytes(uint64(r.BodyBytes)))
			continue
		}
		h := http.Header{}
		for k, v := range r.Headers {
			h.Set(k, v)
		}
		verifier, err := signature.NewVerifier(signature.Config{
			Secrets: secrets,
			NowFunc: func() time.Time { return r.ReceivedAt },
		})
		if err != nil {
			return usageError("%v", err)
		}
		res, err := verifier.Verify(h, r.Body)
		if err != nil {
			stillFailing++
			d := signature.Diagnose(h, r.Body, secrets, r.ReceivedAt, signature.DefaultTolerance)
			fmt.Fprintf(out, "rejection %d: still fails (%s)\n%s\n", id, signature.ReasonCode(err), indent(d.String()))
			continue
		}
		ev := receiver.NewEvent(uuid.Must(uuid.NewV7()).String(), r.Source, string(res.Scheme), h, r.Body, r.ReceivedAt)
		ev.Destinations = dispatch.Destinations(routes, ev.Type)
		ar, err := st.Append(ctx, ev)
		if err != nil {
			return fmt.Errorf("rejection %d: store: %w", id, err)
		}
		if err := st.MarkRejectionReleased(ctx, id, ar.EventID, time.Now().UTC()); err != nil {
			return fmt.Errorf("rejection %d: %w", id, err)
		}
		released++
		what := "stored as event " + ar.EventID
		if ar.Duplicate {
			what = "a duplicate of event " + ar.EventID + " (nothing new stored)"
		}
		fmt.Fprintf(out, "rejection %d: verified with secret %d (%s), %s\n", id, res.SecretIndex+1, res.Scheme, what)
	}
	fmt.Fprintf(out, "%d released, %d still failing", released, stillFailing)
	if n := unverifiable + inPart; n > 0 {
		fmt.Fprintf(out, ", %d cannot be verified (body kept in part)", n)
	}
	fmt.Fprintln(out)
	if stillFailing > 0 {
		return failed(fmt.Errorf("not released: %d still failing verification", stillFailing))
	}
	if unverifiable > 0 {
		return failed(fmt.Errorf("%d rejection(s) cannot be verified: their bodies were kept only in part", unverifiable))
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
