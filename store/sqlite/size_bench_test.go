package sqlite_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hooklatch/hooklatch/event"
	"github.com/hooklatch/hooklatch/internal/retention"
	"github.com/hooklatch/hooklatch/store"
	"github.com/hooklatch/hooklatch/store/sqlite"
)

// grownStore returns the path of a store of events, the first old of
// them received 40 days ago (past a 30-day retention, nothing left to
// deliver: prunable), the rest an hour ago. It is grown once, by SQL
// straight into the file (real ingest takes an hour for a million), at
// $HOOKLATCH_GROWN_STORE, and reused: keep it outside the repository.
// Without that variable the benchmark is skipped. Benchmarks that write
// to it work on a copy (copyStore).
func grownStore(b *testing.B, events, old int) string {
	b.Helper()
	path := os.Getenv("HOOKLATCH_GROWN_STORE")
	if path == "" {
		b.Skip("set HOOKLATCH_GROWN_STORE to a path outside the repository, where a store of " +
			strconv.Itoa(events) + " events is grown once and kept")
	}
	growOnce(b, path, events, old, func(string) {})
	return path
}

// growOnce grows a store of events at path, unless one is there: create
// makes its empty file first (or does nothing, for the default pages).
func growOnce(b *testing.B, path string, events, old int, create func(path string)) {
	b.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	b.Logf("growing %s to %d events (%d past retention)", path, events, old)
	create(path + ".tmp")
	s, err := sqlite.Open(context.Background(), path+".tmp", sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	if err := insertEvents(path+".tmp", events, old); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
}

// insertEvents appends events shaped like Sent's (a sample body with a
// fresh subject, a fresh event id) to the store at path.
func insertEvents(path string, events, old int) error {
	db, err := sql.Open("sqlite", path+"?_pragma=cache_size(-1000000)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	sample, err := event.Sample("message.delivered", event.SampleOptions{})
	if err != nil {
		return err
	}
	env, err := event.Parse(sample)
	if err != nil {
		return err
	}
	subject := env.Subject().ID
	oldAt, newAt := time.Now().Add(-40*24*time.Hour).UnixNano(), time.Now().Add(-time.Hour).UnixNano()
	const perTx = 50_000
	for done := 0; done < events; done += perTx {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		stmt, err := tx.Prepare(`INSERT INTO events (id, source, dedupe_key, type, subject, status, received_at, headers, body, body_sha256)
VALUES (?, 'sent', ?, 'message.delivered', ?, 'delivered', ?, '{}', ?, ?)`)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := done; i < min(done+perTx, events); i++ {
			fresh := uuid.NewString()
			body := bytes.Replace(sample, []byte(subject), []byte(fresh), 1)
			sum := sha256.Sum256(body)
			at := newAt + int64(i)
			if i < old {
				at = oldAt + int64(i)
			}
			if _, err := stmt.Exec(uuid.Must(uuid.NewV7()).String(), "event-id:"+rand.Text(), fresh, at, body, sum[:]); err != nil {
				tx.Rollback()
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// BenchmarkGrow only grows the store: run it once before the others.
func BenchmarkGrow(b *testing.B) {
	grownStore(b, grownEvents, grownOld)
	for b.Loop() {
	}
}

const grownEvents, grownOld = 1_500_000, 1_200_000

// ingestRun is how long each variant of a round appends.
var ingestRun = flag.Duration("ingest-run", 8*time.Second, "how long each variant of the size benchmarks appends")

// BenchmarkIngestWhilePruning appends, from 64 goroutines, to a copy of the
// grown store, with and without retention pruning its backlog of 1.2 M
// prunable events meanwhile, alternating, three rounds; it reports each
// rate and the ratio of the totals (pruning / not), then how fast
// retention prunes with nothing else to do:
//
//	HOOKLATCH_GROWN_STORE=/tmp/grown.db go test -run '^$' -bench IngestWhilePruning -benchtime 1x -timeout 30m ./store/sqlite
//
// The same through HTTP: serve on a copy of the grown store, with
// --retention 8760h (nothing to prune) and 720h (1.2 M events to prune)
// in turn, each under `hooklatch bench --url … --duration 10s`:
//
//	hooklatch serve --store /tmp/copy.db --addr 127.0.0.1:39131 --admin-addr off --retention 720h
//	hooklatch bench --url http://127.0.0.1:39131/webhooks/sent --secret "$SENT_WEBHOOK_SECRET" --duration 10s
func BenchmarkIngestWhilePruning(b *testing.B) {
	path := copyStore(b, grownStore(b, grownEvents, grownOld))
	ctx := context.Background()
	var pragmas []string
	if *prunePragma != "" {
		pragmas = append(pragmas, *prunePragma)
	}
	s, err := sqlite.Open(ctx, path, sqlite.WithWriterPragmas(sqlite.Options{Exclusive: true}, pragmas...))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for b.Loop() {
		var plain, pruning float64
		for round := 1; round <= 3; round++ {
			wal := watchWAL(path)
			rate, p99 := ingest(b, s, *ingestRun)
			plain += rate
			fmt.Printf("round %d without pruning: %.0f appends/s, p99 %s, WAL at most %d MB\n", round, rate, p99, wal()>>20)

			r, err := retention.New(retention.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			pruneCtx, stop := context.WithCancel(ctx)
			var pruned, keys int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				pruned, keys, _ = r.Prune(pruneCtx)
			}()
			wal = watchWAL(path)
			rate, p99 = ingest(b, s, *ingestRun)
			stop()
			<-done
			pruning += rate
			fmt.Printf("round %d while pruning:     %.0f appends/s, p99 %s, WAL at most %d MB; pruned %d events (%.0f/s), %d keys\n",
				round, rate, p99, wal()>>20, pruned, float64(pruned)/ingestRun.Seconds(), keys)
		}
		b.ReportMetric(pruning/plain, "ratio")
		pruneCtx, stop := context.WithTimeout(ctx, *ingestRun)
		r, err := retention.New(retention.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		pruned, _, _ := r.Prune(pruneCtx)
		stop()
		fmt.Printf("pruning alone: %d events (%.0f/s)\n", pruned, float64(pruned)/ingestRun.Seconds())
	}
}

// watchWAL samples the size of the store's log every 10ms until the
// function it returns is called, which returns the largest.
func watchWAL(path string) func() int64 {
	stop, largest := make(chan struct{}), make(chan int64)
	go func() {
		var most int64
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				largest <- most
				return
			case <-tick.C:
			}
			if fi, err := os.Stat(path + "-wal"); err == nil {
				most = max(most, fi.Size())
			}
		}
	}()
	return func() int64 {
		close(stop)
		return <-largest
	}
}

// copyStore copies the store at path into a temporary directory.
func copyStore(b *testing.B, path string) string {
	b.Helper()
	to := filepath.Join(b.TempDir(), "grown.db")
	if out, err := exec.Command("cp", path, to).CombinedOutput(); err != nil {
		b.Fatalf("copy %s: %v: %s", path, err, out)
	}
	// The copy leaves a gigabyte or more for the kernel to write back,
	// which it starts half a minute later: in the middle of the rounds,
	// slowing the grown store's syncs and none of the fresh one's.
	if out, err := exec.Command("sync", to).CombinedOutput(); err != nil {
		b.Fatalf("sync %s: %v: %s", to, err, out)
	}
	return to
}

// ingest appends events shaped like Sent's, each to dests, from 64
// goroutines for d, and returns the rate and the 99th percentile of an
// append's latency.
func ingest(b *testing.B, s store.Store, d time.Duration, dests ...string) (float64, time.Duration) {
	b.Helper()
	sample, err := event.Sample("message.delivered", event.SampleOptions{})
	if err != nil {
		b.Fatal(err)
	}
	env, err := event.Parse(sample)
	if err != nil {
		b.Fatal(err)
	}
	subject := []byte(env.Subject().ID)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
	)
	ctx := context.Background()
	start := time.Now()
	end := start.Add(d)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(end) {
				fresh := uuid.NewString()
				body := bytes.Replace(sample, subject, []byte(fresh), 1)
				ev := &store.NewEvent{EventData: store.EventData{
					ID: store.NewEventIDFor(body), Source: "sent", DedupeKey: "event-id:" + rand.Text(),
					Type: "message.delivered", Subject: fresh, ReceivedAt: time.Now(), Body: body,
				}, Destinations: dests}
				t := time.Now()
				if _, err := s.Append(ctx, ev); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		b.Fatal("no append answered")
	}
	slices.Sort(latencies)
	return float64(len(latencies)) / elapsed.Seconds(), latencies[len(latencies)*99/100]
}

// BenchmarkIngestAtSize appends, from 64 goroutines, to a fresh store and
// to a copy of the grown one, with each of the writer's settings in
// -pragmas (semicolon-separated; the fresh store has the first) and each
// WAL bound in -wal-mb,
// alternating, three rounds; it reports each variant's total rate as a
// ratio to the fresh store's:
//
//	HOOKLATCH_GROWN_STORE=/tmp/grown.db go test -run '^$' -bench IngestAtSize -benchtime 1x -timeout 30m ./store/sqlite
func BenchmarkIngestAtSize(b *testing.B) {
	grown := copyStore(b, grownStore(b, grownEvents, grownOld))
	ctx := context.Background()
	pragmas := strings.Split(*writerPragmas, ";")
	type variant struct {
		name, path, pragma string
		walMB              int64
	}
	variants := []variant{{"fresh, " + pragmas[0], "", pragmas[0], 0}}
	for _, p := range pragmas {
		variants = append(variants, variant{"grown, " + p, grown, p, 0})
	}
	for _, mb := range strings.Split(*walBounds, ",") {
		if n, err := strconv.ParseInt(mb, 10, 64); err == nil && n > 0 {
			variants = append(variants, variant{fmt.Sprintf("grown, %s, WAL bound %d MiB", pragmas[0], n), grown, pragmas[0], n})
		}
	}
	for b.Loop() {
		total := make([]float64, len(variants))
		for round := 1; round <= 3; round++ {
			for i, v := range variants {
				path := v.path
				if path == "" {
					path = filepath.Join(b.TempDir(), "fresh.db")
				}
				s, err := sqlite.Open(ctx, path, sqlite.WithWriterPragmas(sqlite.Options{Exclusive: true, MaxWALBytes: v.walMB << 20}, v.pragma))
				if err != nil {
					b.Fatal(err)
				}
				rate, p99 := ingest(b, s, *ingestRun)
				s.Close()
				total[i] += rate
				fmt.Printf("round %d %s: %.0f appends/s, p99 %s\n", round, v.name, rate, p99)
			}
		}
		for i, v := range variants[1:] {
			fmt.Printf("%s: %.2f of fresh\n", v.name, total[i+1]/total[0])
		}
	}
}

var prunePragma = flag.String("prune-pragma", "", "with IngestWhilePruning: a setting for the writer, such as cache_size(-65536)")

var walBounds = flag.String("wal-mb", "", "with IngestAtSize: MaxWALBytes to compare too, in MiB, comma-separated")

var writerPragmas = flag.String("pragmas", "cache_size(-2000);cache_size(-16000);cache_size(-65536);cache_size(-262144)",
	"with IngestAtSize: the writer's settings to compare, semicolon-separated")

// BenchmarkFramesByTree appends, from 64 goroutines for -ingest-run, to a
// fresh store and to a copy of the grown one, with checkpoints held off,
// then reads each one's write-ahead log: how many frames (pages written)
// each table and index cost per event, which is where the grown store's
// appends lose to the fresh store's in BenchmarkIngestAtSize. A third,
// fresh, store gives each event a delivery, claimed by its append and
// completed at once, as serve forwarding to an idle app does; only its
// totals are reported, as completions empty the indexes of deliveries in
// flight, whose freed pages other tables then reuse: a page is named by
// its owner at the end of the run, right only for a store that frees
// none:
//
//	HOOKLATCH_GROWN_STORE=/var/tmp/grown.db go test -run '^$' -bench FramesByTree -benchtime 1x -ingest-run 4s ./store/sqlite
func BenchmarkFramesByTree(b *testing.B) {
	ctx := context.Background()
	grown := copyStore(b, grownStore(b, grownEvents, grownOld))
	fresh := filepath.Join(b.TempDir(), "fresh.db")
	// No checkpoint may start the log over while it is read: one an hour,
	// and a bound far above what the run writes.
	opts := sqlite.Options{CheckpointInterval: time.Hour, MaxWALBytes: 64 << 30}
	perEvent := map[string]map[string]float64{}     // frames, by table or index, then variant
	var delivered struct{ frames, commits float64 } // per event, the third variant's
	variants := []struct {
		name, path string
		deliver    bool
	}{{"fresh", fresh, false}, {"grown", grown, false}, {"delivered", filepath.Join(b.TempDir(), "delivered.db"), true}}
	for _, v := range variants {
		s, err := sqlite.Open(ctx, v.path, opts)
		if err != nil {
			b.Fatal(err)
		}
		var dests []string
		stopDelivering := func() {}
		if v.deliver {
			dests, stopDelivering = []string{"app"}, deliverHanded(b, s)
		}
		_, _, skip, err := sqlite.FramesByTree(s, v.path, 0)
		if err != nil {
			b.Fatal(err)
		}
		before, err := s.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ingest(b, s, *ingestRun, dests...)
		stopDelivering()
		after, err := s.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		byTree, commits, frames, err := sqlite.FramesByTree(s, v.path, skip)
		s.Close()
		if err != nil {
			b.Fatal(err)
		}
		events := float64(after.Events - before.Events)
		frames -= skip
		b.ReportMetric(float64(frames)/events, v.name+"-frames/event")
		b.Logf("%s: %.0f events, %d frames, %d commits", v.name, events, frames, commits)
		if v.deliver {
			delivered.frames, delivered.commits = float64(frames)/events, float64(commits)/events
			continue
		}
		for tree, n := range byTree {
			if perEvent[tree] == nil {
				perEvent[tree] = map[string]float64{}
			}
			perEvent[tree][v.name] = float64(n) / events
		}
	}
	trees := slices.Collect(maps.Keys(perEvent))
	slices.SortFunc(trees, func(x, y string) int { return cmp.Compare(perEvent[y]["grown"], perEvent[x]["grown"]) })
	var table strings.Builder
	fmt.Fprintf(&table, "%-34s %8s %8s  (frames per event)\n", "table or index", "fresh", "grown")
	for _, t := range trees {
		fmt.Fprintf(&table, "%-34s %8.3f %8.3f\n", t, perEvent[t]["fresh"], perEvent[t]["grown"])
	}
	fmt.Fprintf(&table, "with a delivery each: %.3f frames and %.3f commits per event\n", delivered.frames, delivered.commits)
	// Printed, not logged: the benchmark's log is cut short.
	fmt.Print(table.String())
}

// deliverHanded has s's appends claim every delivery and completes each
// claim as a success at once, as a dispatcher with an app that answers at
// once would; the function it returns stops it, once the appends are done.
func deliverHanded(b *testing.B, s *sqlite.Store) (stop func()) {
	b.Helper()
	claims := make(chan []store.Claim, 1024)
	var taken, handed atomic.Int64
	s.ClaimOnAppend(&store.AppendClaims{
		Owner: "bench", Lease: time.Minute, Now: time.Now,
		Take:   func(string) bool { taken.Add(1); return true },
		Untake: func(string) { taken.Add(-1) },
		Claimed: func(cs []store.Claim) {
			claims <- cs
			handed.Add(int64(len(cs)))
		},
	})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for cs := range claims {
				for _, c := range cs {
					now := time.Now()
					err := s.Complete(context.Background(), store.Completion{DeliveryID: c.Delivery.ID, Owner: "bench",
						Status: store.DeliverySucceeded, SpendAttempt: true, Now: now,
						Attempt: store.Attempt{Attempt: 1, StartedAt: now, Outcome: store.OutcomeSucceeded, StatusCode: 200}})
					if err != nil {
						b.Error(err)
					}
				}
			}
		})
	}
	return func() {
		s.ClaimOnAppend(nil)
		// The appends are done; the last claims may still be on their
		// way, their subjects read off the writer.
		for handed.Load() < taken.Load() {
			time.Sleep(time.Millisecond)
		}
		close(claims)
		wg.Wait()
	}
}
