package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cueapiProc runs the test binary as `cueapi <args>` (see TestMain) with env
// on top of a clean configuration; it returns the exit code and the output.
func cueapiProc(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = []string{"CUEAPI_TEST_MAIN=1", "CUEAPI_TEST_ARGS=" + strings.Join(args, " "), "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "cueapi %v did not exit: it must not start anything", args)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, stdout.String(), stderr.String()
}

func TestEveryCommandExplainsItself(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"":            {"--help"},
		"help":        {"help"},
		"-h":          {"-h"},
		"serve":       {"serve", "--help"},
		"serve -h":    {"serve", "-h"},
		"migrate":     {"migrate", "--help"},
		"migrate -h":  {"migrate", "-h"},
		"worker":      {"worker", "--help"},
		"worker -h":   {"worker", "-h"},
		"bench":       {"bench", "--help"},
		"bench -h":    {"bench", "-h"},
		"version":     {"version", "--help"},
		"healthcheck": {"healthcheck", "--help"},
	}
	for name, args := range cases {
		t.Run(strings.TrimSpace(name+" help"), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// A PostgreSQL URL nobody listens on: migrating or serving
			// would fail (exit 1) rather than succeed silently.
			env := map[string]string{"CUEAPI_DATA_DIR": dir, "PORT": "1", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
				"CUEAPI_API_KEY": "cue_sk_00000000000000000000000000000000", "METRICS_ADDR": "127.0.0.1:1"}
			code, stdout, stderr := cueapiProc(t, env, args...)
			require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
			require.Contains(t, strings.ToLower(stdout+stderr), "usage", "stdout: %s\nstderr: %s", stdout, stderr)
			require.NotContains(t, stderr, "cueapi listening")
			require.NotContains(t, stderr, "migrations applied")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing was created in the data directory")
		})
	}
}

func TestHelpListsEveryVariableWithItsDefault(t *testing.T) {
	t.Parallel()
	code, stdout, _ := cueapiProc(t, nil, "--help")
	require.Equal(t, 0, code)
	table := envTable()
	require.Greater(t, len(table), 30)
	for _, v := range table {
		require.NotEmpty(t, v.Help, "%s has no description in envHelp", v.Name)
		require.Contains(t, stdout, v.Name)
		require.Regexp(t, `(?m)^  `+v.Name+` +default: `+regexpQuote(v.Default)+`$`, stdout)
	}
	for name := range envHelp {
		found := false
		for _, v := range table {
			found = found || v.Name == name
		}
		require.True(t, found, "envHelp describes %s, which readConfig never reads", name)
	}
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, "/", `\/`, ":", `\:`, "+", `\+`, "(", `\(`, ")", `\)`)
	return r.Replace(s)
}

// README.md's Configuration table is the --help table. UPDATE_README=1
// rewrites it.
func TestREADMEConfigurationMatchesTheTable(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(raw)
	start := strings.Index(readme, "## Configuration\n")
	require.GreaterOrEqual(t, start, 0)
	tStart := start + strings.Index(readme[start:], "| Variable |")
	tEnd := tStart + strings.Index(readme[tStart:], "\n\n") + 1
	want := envMarkdown()
	if os.Getenv("UPDATE_README") == "1" {
		require.NoError(t, os.WriteFile("../../README.md", []byte(readme[:tStart]+want+readme[tEnd:]), 0o644))
		return
	}
	require.Equal(t, want, readme[tStart:tEnd], "README.md's Configuration table is stale: run UPDATE_README=1 go test -run TestREADMEConfiguration ./cmd/cueapi")
}

func TestOneVersionEverywhere(t *testing.T) {
	t.Parallel()
	code, stdout, _ := cueapiProc(t, nil, "version")
	require.Equal(t, 0, code)
	e := newTestEnv(t, backendSQLite, nil)
	resp, body := e.raw("GET", "/health", "", "", nil)
	require.Equal(t, 200, resp.StatusCode)
	var h struct {
		Version string `json:"version"`
	}
	require.NoError(t, json.Unmarshal(body, &h))
	require.NotEmpty(t, h.Version)
	require.Equal(t, "cueapi "+h.Version+"\n", stdout)
}

func TestBaseURLFollowsTheListenAddress(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"":                                  "http://localhost:8000",
		"PORT=9123":                         "http://localhost:9123",
		"HOST=0.0.0.0 PORT=80":              "http://localhost:80",
		"HOST=10.1.2.3":                     "http://10.1.2.3:8000",
		"HOST=::1 PORT=7000":                "http://localhost:7000",
		"BASE_URL=https://cue.example.com/": "https://cue.example.com",
	} {
		vars := map[string]string{}
		for _, kv := range strings.Fields(env) {
			k, v, _ := strings.Cut(kv, "=")
			vars[k] = v
		}
		cfg, err := loadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		require.NoError(t, err)
		require.Equal(t, want, cfg.BaseURL, env)
		require.Empty(t, cfg.DashboardURL, "no token leaves for another origin unless configured")
	}
}

// The image's HEALTHCHECK: exit 0 against a healthy server, 1 when nothing
// answers.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a real server process")
	}
	srv := startServer(t, map[string]string{"ENV": "development", "PORT": "0", "CUEAPI_DATA_DIR": t.TempDir()})
	code, stdout, stderr := cueapiProc(t, nil, "healthcheck", "-url", "http://"+srv.addr+"/health")
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "healthy\n", stdout)
	srv.kill()
	code, _, stderr = cueapiProc(t, nil, "healthcheck", "-url", "http://"+srv.addr+"/health", "-timeout", "2s")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "healthcheck:")
}
