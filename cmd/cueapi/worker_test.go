//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apiclient"
	"github.com/cueapi/cueapi/workerd"
)

func TestWorkerConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "worker.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
api_url: http://cueapi.internal:9000/v1/
api_key: from-file
worker_id: w1
poll_interval: 2s
heartbeat_interval: 45
concurrency: 3
drain_timeout: 1m
kill_grace: 1.5
log_level: debug
handlers:
  backup:
    command: ["/usr/local/bin/backup", "--full"]
    timeout: 30m
    env: {TARGET: s3, PORT: 8080}
    workdir: /srv
  report: "python3 report.py | tee out.log"
  cleanup:
    command: rm -rf /tmp/x
`), 0o600))
	env := map[string]string{"CUEAPI_API_KEY": "from-env", "CUEAPI_API_URL": "http://ignored:1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var out bytes.Buffer
	cfg, err := loadWorkerConfig([]string{"-config", path, "-concurrency", "5", "-handler", "extra=echo hi", "-handler", "report=./other.sh"}, lookup, &out)
	require.NoError(t, err)
	require.Equal(t, "http://cueapi.internal:9000/v1/", cfg.APIURL)
	require.Equal(t, "from-file", cfg.APIKey)
	require.Equal(t, "cueapi-worker-go/"+version, cfg.UserAgent)
	require.Equal(t, "w1", cfg.WorkerID)
	require.Equal(t, 2*time.Second, cfg.PollInterval)
	require.Equal(t, 45*time.Second, cfg.HeartbeatInterval)
	require.Equal(t, 5, cfg.Concurrency) // the flag wins
	require.Equal(t, time.Minute, cfg.DrainTimeout)
	require.Equal(t, 1500*time.Millisecond, cfg.KillGrace)
	require.Equal(t, "debug", cfg.LogLevel)
	require.Equal(t, []string{"backup", "cleanup", "extra", "report"}, cfg.HandlerNames())
	require.Equal(t, workerd.Handler{
		Argv: []string{"/usr/local/bin/backup", "--full"}, Timeout: 30 * time.Minute,
		Env: map[string]string{"TARGET": "s3", "PORT": "8080"}, Workdir: "/srv",
	}, cfg.Handlers["backup"])
	require.Equal(t, []string{"/bin/sh", "-c", "rm -rf /tmp/x"}, cfg.Handlers["cleanup"].Argv)
	require.Equal(t, workerd.DefaultHandlerTimeout, cfg.Handlers["cleanup"].Timeout)
	require.Equal(t, []string{"/bin/sh", "-c", "echo hi"}, cfg.Handlers["extra"].Argv)
	require.Equal(t, []string{"/bin/sh", "-c", "./other.sh"}, cfg.Handlers["report"].Argv) // the flag wins

	t.Run("environment defaults", func(t *testing.T) {
		cfg, err := loadWorkerConfig([]string{"-handler", "a=true"}, lookup, &out)
		require.NoError(t, err)
		require.Equal(t, "http://ignored:1", cfg.APIURL)
		require.Equal(t, "from-env", cfg.APIKey)
		require.Equal(t, workerd.DefaultPollInterval, cfg.PollInterval)
		require.Equal(t, workerd.DefaultHeartbeatInterval, cfg.HeartbeatInterval)
		require.Equal(t, workerd.DefaultDrainTimeout, cfg.DrainTimeout)
		require.Equal(t, 1, cfg.Concurrency)
		require.Contains(t, cfg.WorkerID, "-"+strconv.Itoa(os.Getpid()))
		cfg, err = loadWorkerConfig([]string{"-handler", "a=true"}, func(k string) (string, bool) {
			return map[string]string{"CUEAPI_API_KEY": "k"}[k], k == "CUEAPI_API_KEY"
		}, &out)
		require.NoError(t, err)
		require.Equal(t, workerd.DefaultAPIURL, cfg.APIURL)
	})
	t.Run("errors", func(t *testing.T) {
		for name, c := range map[string]struct {
			yaml string
			args []string
			env  map[string]string
			want string
		}{
			"unknown key":          {yaml: "poll_intervall: 3s\n", want: "poll_intervall"},
			"unknown handler key":  {yaml: "handlers: {a: {comand: x}}\n", want: "comand"},
			"bad duration":         {yaml: "poll_interval: soon\n", want: "invalid duration"},
			"empty command":        {yaml: "handlers: {a: {command: []}}\n", want: "empty command"},
			"no key":               {args: []string{"-handler", "a=true"}, env: map[string]string{}, want: "no API key"},
			"no handlers":          {args: []string{}, want: "no handlers"},
			"bad url":              {args: []string{"-handler", "a=true", "-api-url", "ftp://x"}, want: "api_url"},
			"bad handler flag":     {args: []string{"-handler", "nocommand"}, want: "name=command"},
			"zero concurrency":     {args: []string{"-handler", "a=true", "-concurrency", "0"}, want: "concurrency"},
			"stray argument":       {args: []string{"-handler", "a=true", "extra"}, want: "unexpected"},
			"negative poll period": {args: []string{"-handler", "a=true", "-poll-interval", "-1s"}, want: "poll_interval"},
		} {
			args := c.args
			if c.yaml != "" {
				p := filepath.Join(t.TempDir(), "w.yaml")
				require.NoError(t, os.WriteFile(p, []byte(c.yaml), 0o600))
				args = append([]string{"-config", p, "-handler", "a=true"}, args...)
			}
			e := c.env
			if e == nil {
				e = map[string]string{"CUEAPI_API_KEY": "k"}
			}
			_, err := loadWorkerConfig(args, func(k string) (string, bool) { v, ok := e[k]; return v, ok }, &out)
			require.ErrorContains(t, err, c.want, name)
		}
	})
}

func TestWorkerCommandHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"worker", "-h"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "usage: cueapi worker")
	require.Contains(t, stderr.String(), "-handler")
}

// startWorker runs a worker daemon in-process; stop cancels it (no drain
// unless the config has one) and waits, bounded, for Run to return nil.
func startWorker(t *testing.T, cfg workerd.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := workerd.New(cfg, nil)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				w.StopNow()
				t.Error("worker did not stop in time")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestWorkerEndToEnd: `cueapi worker` against a running server executes a
// fired worker cue's command and the execution ends with its outcome
// recorded; a worker killed mid-run loses nothing: the execution comes back
// after the lease and the next worker completes it.
func TestWorkerEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, be := range backends() {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, be, nil)
			key := e.register()
			dir := t.TempDir()
			c := e.createCue(key, `{"name":"nightly-build","transport":"worker","schedule":{"type":"once","at":"2027-01-01T00:00:00Z"},"payload":{"task":"build","ref":"main"}}`)
			fired, err := e.client.FireCueWithResponse(ctx, c.ID, nil, apiclient.FireRequest{}, auth(key))
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, fired.StatusCode(), string(fired.Body))
			id := fired.JSON200.ID

			// The first attempt blocks until its worker is killed; the
			// second one completes.
			handler := workerd.ShellHandler(`
if [ "$CUEAPI_ATTEMPT" = 1 ]; then echo $$ > "$OUT/started.tmp"; mv "$OUT/started.tmp" "$OUT/started"; exec sleep 60; fi
cat > "$OUT/stdin"; echo "built $CUEAPI_TASK (attempt $CUEAPI_ATTEMPT)"`)
			handler.Env = map[string]string{"OUT": dir}
			handlers := map[string]workerd.Handler{"nightly-build": handler}
			workerCfg := func(workerID string) workerd.Config {
				return workerd.Config{
					APIURL: e.srv.URL + "/v1", APIKey: key, WorkerID: workerID,
					PollInterval: 20 * time.Millisecond, HeartbeatInterval: time.Second, Concurrency: 1,
					DrainTimeout: 0, KillGrace: 100 * time.Millisecond, ReportBackoff: 10 * time.Millisecond,
					Handlers: handlers, HTTPClient: e.http, // every exchange is checked against openapi.yaml
				}
			}

			stopFirst := startWorker(t, workerCfg("w-first"))
			var pidText []byte
			eventually(t, 15*time.Second, func() bool {
				pidText, err = os.ReadFile(filepath.Join(dir, "started"))
				return err == nil
			})
			pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
			require.NoError(t, err)
			ex := e.execution(key, id)
			require.Equal(t, apiclient.ExecutionStatusDelivering, ex.Status)
			require.Equal(t, "w-first", *ex.ClaimedByWorker)
			stopFirst() // no drain: the job is killed, not reported
			eventually(t, 5*time.Second, func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) })
			ex = e.execution(key, id)
			require.Equal(t, apiclient.ExecutionStatusDelivering, ex.Status)
			require.Nil(t, ex.Outcome)

			// The lease runs out: the execution returns to the pool.
			e.clock.Advance(901 * time.Second)
			require.NoError(t, e.app.Sweeper.SweepOnce(ctx))
			ex = e.execution(key, id)
			require.Equal(t, apiclient.ExecutionStatusPending, ex.Status)
			require.Equal(t, 1, ex.Attempts)

			stopSecond := startWorker(t, workerCfg("w-second"))
			eventually(t, 15*time.Second, func() bool { return e.execution(key, id).Outcome != nil })
			stopSecond()
			ex = e.execution(key, id)
			require.Equal(t, apiclient.ExecutionStatusSuccess, ex.Status)
			require.True(t, ex.Outcome.Success)
			require.Equal(t, "built build (attempt 2)", *ex.Outcome.Result)
			require.Equal(t, 2, ex.Attempts)
			stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
			require.NoError(t, err)
			require.JSONEq(t, `{"task":"build","ref":"main"}`, string(stdin))

			ws, err := e.client.ListWorkersWithResponse(ctx, auth(key))
			require.NoError(t, err)
			require.Len(t, ws.JSON200.Workers, 2)
			for _, w := range ws.JSON200.Workers {
				require.Equal(t, []string{"nightly-build"}, *w.Handlers)
			}
		})
	}
}
