package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/store/sqlite"
)

var pageSizes = flag.String("page-sizes", "4096,2048", "with IngestByPageSize: the page sizes to compare, comma-separated")

// BenchmarkIngestByPageSize appends, from 64 goroutines, to a fresh store
// and to a copy of a grown one (as BenchmarkIngestAtSize does) for each
// page size, the variants alternating over three rounds, and reports
// each one's appends a second, log frames an event, and grown ÷ fresh.
// Each size's grown store is grown once at $HOOKLATCH_GROWN_STORE-<size>:
//
//	HOOKLATCH_GROWN_STORE=/var/tmp/grown.db go test -run '^$' -bench IngestByPageSize -benchtime 1x -ingest-run 6s -timeout 30m ./store/sqlite
//
// A store's page size is set when its file is created, before the log is
// turned on; the store's own connections name journal_mode among their
// pragmas, and the driver runs those in name order (journal_mode before
// page_size), so a page_size pragma there never takes effect. These files
// are created here with theirs.
func BenchmarkIngestByPageSize(b *testing.B) {
	base := os.Getenv("HOOKLATCH_GROWN_STORE")
	if base == "" {
		b.Skip("set HOOKLATCH_GROWN_STORE to a path outside the repository, where the stores are grown once and kept")
	}
	ctx := context.Background()
	var sizes []int
	for _, f := range strings.Split(*pageSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("-page-sizes: %v", err)
		}
		sizes = append(sizes, n)
	}
	grown := map[int]string{}
	for _, size := range sizes {
		path := fmt.Sprintf("%s-%d", base, size)
		growOnce(b, path, grownEvents, grownOld, func(p string) { createWithPageSize(b, p, size) })
		grown[size] = copyStore(b, path)
	}
	for b.Loop() {
		total := map[string]float64{}
		for round := 1; round <= 3; round++ {
			for _, size := range sizes {
				for _, kind := range []string{"fresh", "grown"} {
					path := grown[size]
					if kind == "fresh" {
						path = filepath.Join(b.TempDir(), "fresh.db")
						createWithPageSize(b, path, size)
					}
					s, err := sqlite.Open(ctx, path, sqlite.Options{Exclusive: true})
					if err != nil {
						b.Fatal(err)
					}
					if got, err := sqlite.WriterPragma(s, "page_size"); err != nil || got != strconv.Itoa(size) {
						b.Fatalf("%s: page size %s, %v; want %d", path, got, err, size)
					}
					before := sqlite.FramesWritten(s)
					rate, p99 := ingest(b, s, *ingestRun)
					frames := sqlite.FramesWritten(s) - before
					s.Close()
					total[fmt.Sprint(size, kind)] += rate
					fmt.Printf("round %d, %d-byte pages, %s: %.0f appends/s, p99 %s, %.2f log frames an event\n",
						round, size, kind, rate, p99.Round(100*time.Microsecond), float64(frames)/(rate*ingestRun.Seconds()))
				}
			}
		}
		for _, size := range sizes {
			fmt.Printf("%d-byte pages: grown %.2f of fresh\n", size, total[fmt.Sprint(size, "grown")]/total[fmt.Sprint(size, "fresh")])
		}
	}
}

// createWithPageSize creates an empty store file at path with pages of
// size bytes, in WAL mode.
func createWithPageSize(b *testing.B, path string, size int) {
	b.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA page_size = " + strconv.Itoa(size), "PRAGMA journal_mode = WAL", "CREATE TABLE t (x); DROP TABLE t"} {
		if _, err := db.Exec(q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
}
