package sqlite

import (
	"errors"
	"path/filepath"
	"syscall"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// noSpaceBytes is the free space under which an I/O error is taken for a
// full disk: less than SQLite needs to grow its shared-memory index and
// write a batch.
const noSpaceBytes = 1 << 20

// NoSpace reports whether err, from Open or a write of the store at path,
// comes from a file system with no room left: SQLite's "database or disk
// is full", ENOSPC, or an I/O error while the file system holding path has
// less than 1 MiB free (SQLite reports the shared-memory file that cannot
// grow, when it opens a store left with a write-ahead log, as an I/O
// error). A store over Options.MaxSizeBytes is full too, but space freed
// on the disk does not mend it; it is not counted.
func NoSpace(err error, path string) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR:
		free, ok := freeBytes(filepath.Dir(path))
		return ok && free < noSpaceBytes
	}
	return false
}
