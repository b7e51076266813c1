//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package dirlock

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Without flock the lock is the file's existence: created exclusively,
// removed by Release. A crash leaves it behind (HeldError.Stale).
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, &HeldError{Dir: filepath.Dir(path), PID: readPID(path), Stale: true}
	}
	return f, err
}

func unlockFile(f *os.File, path string) error {
	err := f.Close()
	return errors.Join(err, os.Remove(path))
}
