package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cueapi/cueapi/core"
)

// version is the binary's one version string: `cueapi version`, /health,
// logs, metrics and the worker's User-Agent all report it.
var version = core.Version()

// usage is `cueapi --help`: the commands and every environment variable
// with its default.
func usage() string {
	return `usage: cueapi <command> [-h]

commands:
  serve        run the API, scheduler and dispatcher (default)
  migrate      apply database migrations and exit
  worker       run handler commands for worker-transport cues
  bench        measure delivery throughput and lateness
  healthcheck  probe a running server's /health (exit 0 when healthy)
  version      print the version

Every command answers -h/--help with its usage and exits 0, without
starting, listening or migrating anything.

` + envUsage()
}

// commandHelp is the -h text of the commands without flags of their own
// (bench and worker print their flag sets).
var commandHelp = map[string]string{
	"serve": `usage: cueapi serve

Runs the API, the scheduler and the dispatcher in one process, listening on
HOST:PORT (and METRICS_ADDR when set). Pending migrations are applied at
start. Without DATABASE_URL the store is SQLite in CUEAPI_DATA_DIR and rate
limits are in-process; with DATABASE_URL (and REDIS_URL) any number of
replicas may run. Configuration comes from the environment: see cueapi --help.
`,
	"migrate": `usage: cueapi migrate

Applies pending database migrations (DATABASE_URL, or SQLite in
CUEAPI_DATA_DIR) and exits. serve does the same at start; run this first when
several replicas start at once.
`,
	"version": `usage: cueapi version

Prints the version: the same string /health reports.
`,
	"healthcheck": `usage: cueapi healthcheck [-url http://127.0.0.1:$PORT/health] [-timeout 5s]

Exits 0 when the server answers /health with status "healthy", 1 otherwise
(for container HEALTHCHECK instructions: the image needs no curl).
`,
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "--help", "-help", "help":
			return true
		}
	}
	return false
}

func helpIsSuccess(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// runHealthcheck probes /health.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, err := loadConfig(nil)
	if err != nil {
		return err
	}
	host := cfg.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := fs.String("url", "http://"+net.JoinHostPort(host, strconv.Itoa(cfg.Port))+"/health", "health URL")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return helpIsSuccess(err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"healthy"`) {
		return fmt.Errorf("healthcheck: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
