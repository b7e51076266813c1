package dirlock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/internal/dirlock"
)

func TestAcquire(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")

	first, err := dirlock.Acquire(dir)
	require.NoError(t, err, "creates the directory and locks it")
	b, err := os.ReadFile(filepath.Join(dir, dirlock.FileName))
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid())+"\n", string(b), "the lock file names the holder")

	_, err = dirlock.Acquire(dir)
	var held *dirlock.HeldError
	require.True(t, errors.As(err, &held), "a second open is refused: %v", err)
	require.Equal(t, os.Getpid(), held.PID)
	abs, _ := filepath.Abs(dir)
	require.Equal(t, abs, held.Dir)
	require.Contains(t, err.Error(), abs)
	require.Contains(t, err.Error(), "pid "+strconv.Itoa(os.Getpid()))

	other, err := dirlock.Acquire(t.TempDir())
	require.NoError(t, err, "another directory is independent")
	require.NoError(t, other.Release())

	require.NoError(t, first.Release())
	require.NoError(t, first.Release(), "Release twice is harmless")
	again, err := dirlock.Acquire(dir)
	require.NoError(t, err, "released: the directory can be locked again")
	require.NoError(t, again.Release())
}
