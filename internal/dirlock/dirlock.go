// Package dirlock gives one process at a time a data directory: Acquire
// takes an exclusive lock on a lock file in the directory and records the
// holder's pid in it; a second Acquire, in this or another process, fails
// with a *HeldError naming the directory and the holder.
//
// On Linux, the BSDs and macOS the lock is flock(2): the kernel drops it
// when the holder exits, crash included. Elsewhere the lock file is created
// exclusively and removed by Release; after a crash it stays behind and must
// be removed by hand (the error says so).
package dirlock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FileName is the lock file's name inside the directory.
const FileName = "cueapi.lock"

// Lock is a held directory lock.
type Lock struct {
	f    *os.File
	path string
}

// HeldError is returned by Acquire when another holder has the directory.
type HeldError struct {
	Dir string
	// PID is the holder's process id; 0 when unknown.
	PID int
	// Stale is set when the lock may be left over from a crash (the
	// fallback without flock) and can be removed by hand.
	Stale bool
}

func (e *HeldError) Error() string {
	holder := "pid unknown"
	if e.PID > 0 {
		holder = "pid " + strconv.Itoa(e.PID)
	}
	msg := fmt.Sprintf("data directory %s is in use by another cueapi serve (%s): one embedded server per data directory; stop it, use another CUEAPI_DATA_DIR, or run replicas on PostgreSQL (DATABASE_URL)", e.Dir, holder)
	if e.Stale {
		msg += "; if no such process runs, remove " + filepath.Join(e.Dir, FileName)
	}
	return msg
}

// Acquire creates dir when needed and locks it for this process until
// Release (or exit).
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(abs, FileName)
	f, err := lockFile(path)
	if err != nil {
		return nil, err
	}
	if err := writePID(f); err != nil {
		_ = unlockFile(f, path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Release unlocks the directory. Safe to call on a nil Lock and twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f, l.path)
	l.f = nil
	return err
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// readPID returns the pid recorded in path, 0 when none can be read.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
