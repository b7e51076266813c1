package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDataDirLock starts a real embedded server and a second one on the
// same data directory: the second exits non-zero naming the directory and
// the first one's pid, and the first keeps serving.
func TestDataDirLock(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts real server processes")
	}
	env := map[string]string{
		"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir(),
		"SESSION_SECRET": "lock-test-secret-0123456789abcdefghij",
	}
	first := startServer(t, env)

	second := exec.Command(os.Args[0], "-test.run=^$")
	second.Env = append(os.Environ(), "CUEAPI_TEST_MAIN=1", "CUEAPI_TEST_ARGS=serve")
	for k, v := range env {
		second.Env = append(second.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	second.Stderr = &stderr
	require.NoError(t, second.Start())
	done := make(chan error, 1)
	go func() { done <- second.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = second.Process.Kill()
		<-done
		t.Fatal("the second server did not exit")
	}
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "the second server fails: %v", err)
	require.NotZero(t, exit.ExitCode())
	msg := stderr.String()
	require.Contains(t, msg, env["CUEAPI_DATA_DIR"])
	require.Contains(t, msg, "pid "+strconv.Itoa(first.cmd.Process.Pid))
	require.Contains(t, msg, "one embedded server per data directory")
	require.NotContains(t, msg, "cueapi listening")

	code, _ := first.do(t, "GET", "/status", "", "")
	require.Equal(t, 200, code, "the first server keeps serving")
}
