package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooklatch/hooklatch/internal/bench"
)

// growthApp names the sessions of the serve `bench growth` starts on a
// PostgreSQL store, so that the database server's work for it can be
// told from other clients'.
func growthApp() string { return fmt.Sprintf("hooklatch-growth-%d", os.Getpid()) }

// withApp returns the PostgreSQL URL loc with application_name app.
func withApp(loc, app string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// serverCPU measures, over d, the CPU time the PostgreSQL server's
// processes spend for the sessions named app, and the parallel workers
// they start: it looks them up every 200ms and reads each one's CPU time
// from /proc, so the server must run on this machine. A worker that
// starts and ends between two looks is missed.
func serverCPU(ctx context.Context, loc, app string, d time.Duration) (time.Duration, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return 0, err
	}
	q := u.Query()
	q.Del("schema")
	q.Del("search_path")
	q.Set("application_name", app+"-watch")
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	first, last := map[int]time.Duration{}, map[int]time.Duration{}
	look := func(at bool) error {
		rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1
			OR leader_pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = $1)`, app)
		if err != nil {
			return err
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return err
		}
		for _, pid := range pids {
			cpu, err := bench.ProcessCPU(int(pid))
			if err != nil {
				continue // it ended
			}
			if _, seen := first[int(pid)]; !seen {
				first[int(pid)] = 0
				if at {
					first[int(pid)] = cpu // there at the start: count from here
				}
			}
			last[int(pid)] = cpu
		}
		return nil
	}
	if err := look(true); err != nil {
		return 0, err
	}
	end := time.After(d)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
			if err := look(false); err != nil {
				return 0, err
			}
			continue
		case <-end:
		}
		break
	}
	var used time.Duration
	for pid, cpu := range last {
		used += cpu - first[pid]
	}
	return used, nil
}
