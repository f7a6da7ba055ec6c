package sqlite

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"testing"
)

// A store's schema version is how many migration files it has run, in
// name order. So the files must be numbered 0001, 0002 … without gaps: a
// file added out of order, or numbered past a gap, would be skipped by
// stores already past its position or run in place of another.
func TestMigrationsAreNumberedInOrder(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for i, name := range names {
		if want := fmt.Sprintf("%04d_", i+1); len(path.Base(name)) < 5 || path.Base(name)[:5] != want {
			t.Errorf("migration %d is %s: want its name to start with %s", i+1, path.Base(name), want)
		}
	}
	for name := range dataMigrations {
		if _, err := fs.Stat(migrations, "migrations/"+name); err != nil {
			t.Errorf("data migration for %s: no such migration file", name)
		}
	}
}
