package cli_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/destination/httpdest"
	"github.com/hooklatch/hooklatch/internal/cli"
	"github.com/hooklatch/hooklatch/internal/dispatch"
	"github.com/hooklatch/hooklatch/internal/server"
	"github.com/hooklatch/hooklatch/signature"
	"github.com/hooklatch/hooklatch/store/postgres/pgtest"
)

// The commands work on a PostgreSQL store as on a SQLite file, named by
// --store, HOOKLATCH_STORE or HOOKLATCH_DATABASE_URL, while serve runs on
// it: events, rejections, and a retry that the serving instance hears of.
func TestCommandsOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.URL(t)
	vars := map[string]string{"HOOKLATCH_DATABASE_URL": u}

	// Before serve ever ran there: no store, and none created.
	for _, args := range [][]string{{"events", "ls"}, {"rejections", "ls"}, {"events", "retry", "--dead"}} {
		r := run(t, vars, "", args...)
		if r.code != cli.ExitFailed || !strings.Contains(r.stderr, "no hooklatch store at") || strings.Contains(r.stderr, "postgres: ") {
			t.Errorf("%s before serve: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if schemaExists(t, u) {
		t.Fatal("a command created the store's schema")
	}

	var healthy atomic.Bool
	delivered := make(chan struct{}, 10)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadRequest) // permanent: dead at once
			return
		}
		delivered <- struct{}{}
	}))
	defer app.Close()
	forward, err := httpdest.New(httpdest.Config{URL: app.URL})
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := signature.ParseSecrets(v1Secret)
	srv, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", AdminAddr: "off", Store: u, Secrets: secrets,
		Routes: []dispatch.Route{{Name: "forward", Destination: forward}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := "http://" + srv.Addr() + "/webhooks/sent"
	if r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": v1Secret}, "", "trigger", "message.delivered", "--to", url); r.code != 0 {
		t.Fatalf("trigger: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, map[string]string{"SENT_WEBHOOK_SECRET": legacySecret}, "", "trigger", "message.failed", "--scheme", "legacy", "--to", url); r.code != cli.ExitFailed {
		t.Fatalf("trigger with the wrong secret: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// The delivery goes dead; events ls shows it, by the URL in the environment.
	var id string
	waitFor(t, "the delivery to go dead", func() bool {
		r := run(t, vars, "", "events", "ls", "--status", "dead", "--json")
		var ev struct{ ID string }
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ev) != nil {
			return false
		}
		id = ev.ID
		return true
	})
	waitFor(t, "the rejection to be kept", func() bool {
		r := run(t, map[string]string{"HOOKLATCH_STORE": u}, "", "rejections", "ls")
		return r.code == 0 && strings.Contains(r.stdout, "no_match")
	})

	// A retry from the command line reaches the serving instance.
	healthy.Store(true)
	if r := run(t, nil, "", "events", "retry", "--store", u, id[len(id)-8:]); r.code != 0 || !strings.Contains(r.stdout, "1 delivery requeued") {
		t.Fatalf("events retry: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	select {
	case <-delivered:
	case <-time.After(10 * time.Second):
		t.Fatal("the retried delivery was not delivered")
	}
	waitFor(t, "the event to show as delivered", func() bool {
		r := run(t, vars, "", "events", "show", "--json", id)
		var got struct{ Delivery string }
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &got) == nil && got.Delivery == "succeeded"
	})
}

func schemaExists(t *testing.T, u string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := u[strings.Index(u, "schema=")+len("schema="):]
	schema, _, _ = strings.Cut(schema, "&")
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regnamespace($1) IS NOT NULL`, schema).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	return exists
}

// waitFor polls cond until it holds, for at most ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
