//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ownerLock is the lock an owning Store holds on a file beside the
// database. It is an flock(2) lock, so the kernel drops it when its holder
// closes the file or dies, however it dies: no stale lock outlives a
// crash. It is taken on a file of its own, never on the database or its
// WAL, whose POSIX locks SQLite manages and a stray close would drop.
type ownerLock struct{ f *os.File }

// lockOwner takes the lock for the database at path, or reports who holds
// it. The lock file is left in place on release: removing it would let two
// processes lock two different files of the same name.
func lockOwner(path string) (*ownerLock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &InUseError{Path: path, PID: lockHolder(f)}
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", name, err)
	}
	// The holder's pid, for the error the next one gets.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &ownerLock{f: f}, nil
}

// lockHolder reads the pid the lock's holder wrote, or 0 when it has not
// written it yet.
func lockHolder(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

func (l *ownerLock) release() error {
	if l == nil {
		return nil
	}
	// Closing the file drops the lock.
	return l.f.Close()
}
