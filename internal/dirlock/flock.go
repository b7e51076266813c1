//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package dirlock

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Dir: filepath.Dir(path), PID: readPID(path)}
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return f, nil
}

// unlockFile keeps the file: removing it would let a third process lock a
// new file while a second one waits on the old.
func unlockFile(f *os.File, _ string) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return errors.Join(err, f.Close())
}
