package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hooklatch/hooklatch/internal/inspect"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store"
)

// backend is what the events and rejections commands read and act on:
// the store itself (storeBackend), or a running serve's admin API
// (remoteBackend), which answers the same questions from its store. The
// commands print what either returns the same way.
type backend interface {
	// List returns one page of the events q selects, newest first
	// (inspect.Inspector.List).
	List(ctx context.Context, q inspect.Query) (inspect.Page, error)
	// Find resolves each ref to its event: an error wrapping
	// store.ErrNotFound names the first that names none, an error whose
	// text lists them one that names several.
	Find(ctx context.Context, refs []string) ([]*store.Event, error)
	// Detail is the event ref names with its body, its deliveries and
	// their attempts.
	Detail(ctx context.Context, ref string) (*inspect.Detail, error)
	// Count counts the events q selects, up to limit, without reading
	// them (inspect.Inspector.Count): on a serve, the bulk action's
	// dry_run.
	Count(ctx context.Context, action string, q inspect.Query, limit int) (inspect.Count, error)
	// Act retries, replays or discards the deliveries t names by event
	// ids, Dead and Destination, and returns how many it touched.
	Act(ctx context.Context, action string, t inspect.Target) (int, error)
	// Backfill is inspect.Inspector.Backfill.
	Backfill(ctx context.Context, destination string, q inspect.Query) (int, error)
	Rejections(ctx context.Context, limit int) (inspect.Rejections, error)
	// Rejection returns one rejection with its body, or an error wrapping
	// store.ErrNotFound.
	Rejection(ctx context.Context, id int64) (*store.Rejection, error)
	// Release verifies the rejections ids (every unreleased one when
	// empty) again and stores those that pass: locally with secrets, on
	// a serve with the serve's own.
	Release(ctx context.Context, secrets []signature.Secret, ids []int64) (inspect.ReleaseReport, error)
	// Subject is a subject's latest state and its events, newest first
	// (inspect.Inspector.Subject).
	Subject(ctx context.Context, source, subject string) (*inspect.SubjectDetail, error)
	// Destinations and Pause are inspect.Inspector's: the destinations'
	// states and backlogs, and a pause or a resume.
	Destinations(ctx context.Context) ([]inspect.Destination, error)
	Pause(ctx context.Context, destination string, paused bool) (inspect.Destination, error)
	// Remote reports whether the backend is a serve's admin API.
	Remote() bool
	Close() error
}

// The actions Act takes, as the admin API names them.
const (
	actionRetry   = "retry"
	actionReplay  = "replay"
	actionDiscard = "discard"
)

// storeBackend is a store opened by the command.
type storeBackend struct {
	st store.Store
	in *inspect.Inspector
}

var _ backend = (*storeBackend)(nil)

func newStoreBackend(st store.Store) *storeBackend {
	return &storeBackend{st: st, in: inspect.New(st, nil)}
}

func (b *storeBackend) Destinations(ctx context.Context) ([]inspect.Destination, error) {
	return b.in.Destinations(ctx)
}

func (b *storeBackend) Pause(ctx context.Context, destination string, paused bool) (inspect.Destination, error) {
	return b.in.Pause(ctx, destination, paused)
}

func (b *storeBackend) List(ctx context.Context, q inspect.Query) (inspect.Page, error) {
	return b.in.List(ctx, q)
}

func (b *storeBackend) Subject(ctx context.Context, source, subject string) (*inspect.SubjectDetail, error) {
	return b.in.Subject(ctx, source, subject)
}

func (b *storeBackend) Find(ctx context.Context, refs []string) ([]*store.Event, error) {
	return b.in.Find(ctx, refs)
}

func (b *storeBackend) Detail(ctx context.Context, ref string) (*inspect.Detail, error) {
	return b.in.Event(ctx, ref)
}

func (b *storeBackend) Count(ctx context.Context, _ string, q inspect.Query, limit int) (inspect.Count, error) {
	return b.in.Count(ctx, q, limit)
}

func (b *storeBackend) Act(ctx context.Context, action string, t inspect.Target) (int, error) {
	switch action {
	case actionRetry:
		return b.in.Retry(ctx, t)
	case actionReplay:
		return b.in.Replay(ctx, t)
	case actionDiscard:
		return b.in.Discard(ctx, t)
	}
	return 0, fmt.Errorf("no action %q", action)
}

func (b *storeBackend) Backfill(ctx context.Context, destination string, q inspect.Query) (int, error) {
	return b.in.Backfill(ctx, destination, q)
}

func (b *storeBackend) Rejections(ctx context.Context, limit int) (inspect.Rejections, error) {
	return b.in.Rejections(ctx, limit)
}

func (b *storeBackend) Rejection(ctx context.Context, id int64) (*store.Rejection, error) {
	return b.in.Rejection(ctx, id)
}

func (b *storeBackend) Release(ctx context.Context, secrets []signature.Secret, ids []int64) (inspect.ReleaseReport, error) {
	return b.in.Release(ctx, secrets, ids)
}

func (b *storeBackend) Remote() bool { return false }
func (b *storeBackend) Close() error { return b.st.Close() }

// adminURLEnv names the admin API the events and rejections commands go
// through when --admin-url is not given; adminTokenEnv is its token, as
// serve takes it.
const (
	adminURLEnv   = "HOOKLATCH_ADMIN_URL"
	adminTokenEnv = "HOOKLATCH_ADMIN_TOKEN"
)

// backendFlags adds --store, --admin-url and --admin-token-file to cmd
// and its subcommands, and returns the function that opens what they
// name: the admin API when --admin-url or $HOOKLATCH_ADMIN_URL gives one
// (and --store is not given), else the store.
func backendFlags(cmd *cobra.Command, env Env) func(*cobra.Command, storeUse) (backend, error) {
	openStore := storeFlag(cmd, env)
	cmd.PersistentFlags().String("admin-url", "", "work through this serve's admin API (http://host:3001) instead of opening the store; its token comes from $"+adminTokenEnv+" or --admin-token-file ($"+adminURLEnv+")")
	cmd.PersistentFlags().String("admin-token-file", "", "read the admin token from this file instead of $"+adminTokenEnv)
	return func(c *cobra.Command, use storeUse) (backend, error) {
		flags := c.Flags()
		adminURL := setting(flags, "admin-url", env.Getenv, adminURLEnv)
		if flags.Changed("store") {
			if flags.Changed("admin-url") {
				return nil, usageError("--store and --admin-url: give one (the store to open, or the serve whose admin API to use)")
			}
			adminURL = ""
		}
		if adminURL == "" {
			if flags.Changed("admin-token-file") {
				return nil, usageError("--admin-token-file goes with --admin-url (or $%s)", adminURLEnv)
			}
			st, err := openStore(c, use)
			if err != nil {
				return nil, err
			}
			return newStoreBackend(st), nil
		}
		token := env.Getenv(adminTokenEnv)
		if path, _ := flags.GetString("admin-token-file"); path != "" {
			raw, err := os.ReadFile(path)
			if err != nil {
				return nil, usageError("--admin-token-file: %v", err)
			}
			if token = strings.TrimSpace(string(raw)); token == "" {
				return nil, usageError("--admin-token-file %s is empty", path)
			}
		}
		return newRemoteBackend(adminURL, token)
	}
}

// findEvents resolves each ref to its event, or fails naming the first
// that names none or several.
func findEvents(ctx context.Context, b backend, refs []string) ([]*store.Event, error) {
	evs := make([]*store.Event, 0, len(refs))
	for _, ref := range refs {
		found, err := b.Find(ctx, []string{ref})
		if err != nil {
			return nil, findError(ref, err)
		}
		evs = append(evs, found[0])
	}
	return evs, nil
}

// findError is err, from looking ref up, in the words of the commands.
func findError(ref string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return failed(fmt.Errorf("no event %s (name one by its id, the end of its id as listen prints it, or Sent's event id; 'hooklatch events ls' lists them)", strings.TrimSpace(ref)))
	}
	if amb, ok := errors.AsType[*store.AmbiguousError](err); ok {
		return failed(amb)
	}
	return err
}
