package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklatch/hooklatch/internal/cli"
)

func TestBenchGrowthUsageErrors(t *testing.T) {
	t.Parallel()
	existing := filepath.Join(t.TempDir(), "kept.db")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no store", []string{"bench", "growth", "--sizes", "1k"}, "--store"},
		{"sizes out of order", []string{"bench", "growth", "--store", existing + ".new", "--sizes", "2M,1M"}, "ascending"},
		{"a size that is not a count", []string{"bench", "growth", "--store", existing + ".new", "--sizes", "lots"}, "20k,1M,2M"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, "", c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, cli.ExitUsage, c.want)
			}
		})
	}
	if _, err := os.Stat(existing + ".new"); err == nil {
		t.Errorf("a refused run created %s.new", existing)
	}
}

// bench growth grows and migrates the store it is given: it takes one that
// exists only when told to, so a store is not changed by a slip.
func TestBenchGrowthRefusesAStoreUnlessReused(t *testing.T) {
	t.Parallel()
	existing := filepath.Join(t.TempDir(), "kept.db")
	if err := os.WriteFile(existing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, progress strings.Builder
	// Were the store taken, serve would start from Exe and fail at once.
	err := cli.RunGrowth(context.Background(), &out, &progress, cli.GrowthOptions{
		Store: existing, Sizes: []int64{1000}, Idle: time.Second, Ingest: time.Second, Rounds: 1, Exe: "/bin/false"})
	if code := cli.ExitCode(err); code != cli.ExitUsage || !strings.Contains(err.Error(), "--reuse") {
		t.Errorf("RunGrowth on an existing store without Reuse: exit %d, %v; want exit %d mentioning --reuse", code, err, cli.ExitUsage)
	}
	if info, err := os.Stat(existing); err != nil || info.Size() != 0 {
		t.Errorf("the existing store was changed: %v, %v", info, err)
	}
}
