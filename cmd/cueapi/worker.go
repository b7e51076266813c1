package main

// `cueapi worker`: the command line of the pull-worker daemon (package
// workerd): defaults, the environment, the -config file and flags, the
// logger and the stop signals.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cueapi/cueapi/workerd"
)

// runWorker is `cueapi worker`. The first SIGINT/SIGTERM stops claiming and
// drains running jobs (up to -drain-timeout); a second one stops at once.
func runWorker(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := loadWorkerConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopNow := make(chan struct{})
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigc)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case s := <-sigc:
				if n == 0 {
					log.Info("stop requested; draining running jobs", "signal", s.String(), "drain_timeout", cfg.DrainTimeout.String())
					cancel()
				} else if n == 1 {
					log.Warn("second stop request; abandoning running jobs", "signal", s.String())
					close(stopNow)
				}
			}
		}
	}()
	return workerd.Run(runCtx, cfg, log, stopNow)
}

// defaultWorkerConfig is the configuration before file and flags, with the
// environment (CUEAPI_API_URL, falling back to CUEAPI_API_BASE the CLI uses;
// CUEAPI_API_KEY) read through lookup.
func defaultWorkerConfig(lookup envFunc) workerd.Config {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg := workerd.DefaultConfig()
	cfg.UserAgent = workerd.DefaultUserAgent + "/" + version
	if v, ok := lookup("CUEAPI_API_URL"); ok && strings.TrimSpace(v) != "" {
		cfg.APIURL = v
	} else if v, ok := lookup("CUEAPI_API_BASE"); ok && strings.TrimSpace(v) != "" {
		cfg.APIURL = v
	}
	if v, ok := lookup("CUEAPI_API_KEY"); ok {
		cfg.APIKey = strings.TrimSpace(v)
	}
	return cfg
}

const workerUsage = `usage: cueapi worker [flags]

Runs handlers for worker-transport cues: polls the claimable executions,
claims those whose cue name (or payload "task") has a handler, runs the
handler's command, keeps the claim's lease alive while it runs, and reports
the outcome. See docs/worker.md.

The API key comes from CUEAPI_API_KEY or api_key in the config file (there is
deliberately no flag: command lines are visible to other users).

flags:
`

// loadWorkerConfig builds the configuration: defaults and environment, then
// the -config file, then flags given explicitly.
func loadWorkerConfig(args []string, lookup envFunc, output io.Writer) (workerd.Config, error) {
	cfg := defaultWorkerConfig(lookup)
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), workerUsage)
		fs.PrintDefaults()
	}
	configPath := fs.String("config", "", "YAML configuration file")
	apiURL := fs.String("api-url", cfg.APIURL, "API base URL, with or without /v1 (env CUEAPI_API_URL)")
	workerID := fs.String("worker-id", cfg.WorkerID, "worker id reported to the server (default hostname-pid)")
	poll := fs.Duration("poll-interval", cfg.PollInterval, "pause between polls of the claimable executions")
	hb := fs.Duration("heartbeat-interval", cfg.HeartbeatInterval, "period of the worker heartbeat")
	conc := fs.Int("concurrency", cfg.Concurrency, "jobs run at once")
	drain := fs.Duration("drain-timeout", cfg.DrainTimeout, "on SIGINT/SIGTERM, wait this long for running jobs; then kill them unreported")
	grace := fs.Duration("kill-grace", cfg.KillGrace, "pause between SIGTERM and SIGKILL when a job is stopped")
	logLevel := fs.String("log-level", cfg.LogLevel, "debug, info, warn or error")
	flagHandlers := map[string]workerd.Handler{}
	var flagOrder []string
	fs.Func("handler", "`name=command` run by /bin/sh -c for cues named (or payload task) name; repeatable", func(v string) error {
		name, line, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(line) == "" {
			return errors.New("want name=command")
		}
		flagHandlers[name] = workerd.ShellHandler(line)
		flagOrder = append(flagOrder, name)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("worker: unexpected arguments %q", fs.Args())
	}
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return cfg, fmt.Errorf("worker config: %w", err)
		}
		f, err := workerd.ParseFile(data)
		if err != nil {
			return cfg, fmt.Errorf("worker config %s: %w", *configPath, err)
		}
		f.Apply(&cfg)
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "api-url":
			cfg.APIURL = *apiURL
		case "worker-id":
			cfg.WorkerID = *workerID
		case "poll-interval":
			cfg.PollInterval = *poll
		case "heartbeat-interval":
			cfg.HeartbeatInterval = *hb
		case "concurrency":
			cfg.Concurrency = *conc
		case "drain-timeout":
			cfg.DrainTimeout = *drain
		case "kill-grace":
			cfg.KillGrace = *grace
		case "log-level":
			cfg.LogLevel = *logLevel
		}
	})
	for _, name := range flagOrder {
		cfg.Handlers[name] = flagHandlers[name]
	}
	if cfg.PollInterval <= 0 || cfg.HeartbeatInterval <= 0 {
		return cfg, errors.New("poll_interval and heartbeat_interval must be positive")
	}
	if cfg.Concurrency < 1 {
		return cfg, errors.New("concurrency must be at least 1")
	}
	cfg = cfg.WithDefaults()
	return cfg, cfg.Validate()
}
