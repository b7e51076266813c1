package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"
)

// runWorkerFunc runs a worker until ctx is done (then drains); stopNow
// closing abandons the running jobs at once. worker.go sets it on the
// platforms with process groups (unix); elsewhere `cueapi worker` reports
// that it is unsupported and the rest of the binary still builds.
var runWorkerFunc func(ctx context.Context, cfg workerConfig, log *slog.Logger, stopNow <-chan struct{}) error

// runWorker is `cueapi worker`. The first SIGINT/SIGTERM stops claiming and
// drains running jobs (up to -drain-timeout); a second one stops at once.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_ = stdout
	cfg, err := loadWorkerConfig(args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if runWorkerFunc == nil {
		return errors.New("cueapi worker is not supported on this platform")
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
	return runWorkerFunc(runCtx, cfg, log, stopNow)
}

// Defaults of `cueapi worker`.
const (
	workerDefaultAPIURL            = "http://127.0.0.1:8000"
	workerDefaultPollInterval      = 5 * time.Second
	workerDefaultHeartbeatInterval = 30 * time.Second
	workerDefaultDrainTimeout      = 30 * time.Second
	workerDefaultKillGrace         = 5 * time.Second
	workerDefaultHandlerTimeout    = 10 * time.Minute
	workerDefaultReportBackoff     = time.Second
)

// workerConfig configures the pull worker. The zero value of most fields
// means "the default" (see withDefaults); DrainTimeout is the exception: zero
// means "do not wait for running jobs at shutdown".
type workerConfig struct {
	// APIURL is the server base, with or without the trailing /v1.
	APIURL string
	// APIKey authenticates every request. Never logged, never passed to handlers.
	APIKey string
	// WorkerID identifies this worker to the server (1–255 characters).
	WorkerID string
	// PollInterval is the pause between two looks at the claimable list.
	PollInterval time.Duration
	// HeartbeatInterval is the period of POST /v1/worker/heartbeat.
	HeartbeatInterval time.Duration
	// Concurrency is the number of jobs run at once.
	Concurrency int
	// DrainTimeout bounds the wait for running jobs after a stop request;
	// jobs still running then are killed and not reported.
	DrainTimeout time.Duration
	// KillGrace is the pause between SIGTERM and SIGKILL when a job's
	// process group is stopped (timeout or drain expiry).
	KillGrace time.Duration
	// LogLevel is debug, info (default), warn or error; used by runWorker.
	LogLevel string
	// Handlers maps a cue name (or a payload "task") to what runs it.
	Handlers map[string]workerHandler

	// ReportBackoff is the first pause between outcome-report retries
	// (doubled each time). Not settable from the file or flags.
	ReportBackoff time.Duration
	// HTTPClient overrides the HTTP client (tests). Its Timeout should be set.
	HTTPClient *http.Client
}

// workerHandler is what runs one kind of job.
type workerHandler struct {
	// Argv is the command; a shell string is stored as /bin/sh -c <string>.
	Argv []string
	// Timeout kills the job's process group when it runs longer.
	Timeout time.Duration
	// Env is added to the job's environment (it wins over everything else).
	Env map[string]string
	// Workdir is the job's working directory ("" = the worker's).
	Workdir string
}

// shellHandler is a handler running a shell command line.
func shellHandler(line string) workerHandler {
	return workerHandler{Argv: []string{"/bin/sh", "-c", line}}
}

// defaultWorkerConfig is the configuration before file and flags, with the
// environment (CUEAPI_API_URL, falling back to CUEAPI_API_BASE the CLI uses;
// CUEAPI_API_KEY) read through lookup.
func defaultWorkerConfig(lookup envFunc) workerConfig {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg := workerConfig{
		APIURL:            workerDefaultAPIURL,
		WorkerID:          defaultWorkerID(),
		PollInterval:      workerDefaultPollInterval,
		HeartbeatInterval: workerDefaultHeartbeatInterval,
		Concurrency:       1,
		DrainTimeout:      workerDefaultDrainTimeout,
		KillGrace:         workerDefaultKillGrace,
		LogLevel:          "info",
		Handlers:          map[string]workerHandler{},
	}
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

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// withDefaults fills the fields whose zero value is not usable.
func (c workerConfig) withDefaults() workerConfig {
	if c.APIURL == "" {
		c.APIURL = workerDefaultAPIURL
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	if c.PollInterval <= 0 {
		c.PollInterval = workerDefaultPollInterval
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = workerDefaultHeartbeatInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.KillGrace <= 0 {
		c.KillGrace = workerDefaultKillGrace
	}
	if c.ReportBackoff <= 0 {
		c.ReportBackoff = workerDefaultReportBackoff
	}
	if c.DrainTimeout < 0 {
		c.DrainTimeout = 0
	}
	hs := make(map[string]workerHandler, len(c.Handlers))
	for name, h := range c.Handlers {
		if h.Timeout <= 0 {
			h.Timeout = workerDefaultHandlerTimeout
		}
		hs[name] = h
	}
	c.Handlers = hs
	return c
}

// validate checks a configuration after withDefaults.
func (c workerConfig) validate() error {
	if _, err := workerBaseURL(c.APIURL); err != nil {
		return err
	}
	if c.APIKey == "" {
		return errors.New("no API key: set CUEAPI_API_KEY or api_key in the config file")
	}
	if n := len(c.WorkerID); n == 0 || n > 255 {
		return fmt.Errorf("worker_id must be 1–255 characters (got %d)", n)
	}
	if len(c.Handlers) == 0 {
		return errors.New("no handlers configured: add a handlers section to the config file or -handler name=command")
	}
	for name, h := range c.Handlers {
		if strings.TrimSpace(name) == "" {
			return errors.New("a handler has an empty name")
		}
		if len(h.Argv) == 0 || h.Argv[0] == "" {
			return fmt.Errorf("handler %q: empty command", name)
		}
	}
	return nil
}

// workerBaseURL normalizes the API base for the generated client, whose
// operation paths already start with /v1: "http://h:8000/v1/" and
// "http://h:8000" both become "http://h:8000/".
func workerBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("api_url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("api_url %q: want http(s)://host[:port][/v1]", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/v1")
	u.Path, u.RawPath, u.RawQuery, u.Fragment = p+"/", "", "", ""
	return u.String(), nil
}

// handlerNames is the sorted list of handler names.
func (c workerConfig) handlerNames() []string {
	names := make([]string, 0, len(c.Handlers))
	for n := range c.Handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ---- the YAML file ----

// workerFile is the YAML configuration file. Durations are Go duration
// strings ("5s", "10m") or bare numbers of seconds.
type workerFile struct {
	APIURL            string                       `yaml:"api_url"`
	APIKey            string                       `yaml:"api_key"`
	WorkerID          string                       `yaml:"worker_id"`
	PollInterval      *workerDuration              `yaml:"poll_interval"`
	HeartbeatInterval *workerDuration              `yaml:"heartbeat_interval"`
	Concurrency       *int                         `yaml:"concurrency"`
	DrainTimeout      *workerDuration              `yaml:"drain_timeout"`
	KillGrace         *workerDuration              `yaml:"kill_grace"`
	LogLevel          string                       `yaml:"log_level"`
	Handlers          map[string]workerFileHandler `yaml:"handlers"`
}

// workerFileHandler is one handler in the file: either a mapping
// {command, timeout, env, workdir} or just the command (string or list).
type workerFileHandler struct {
	Command workerCommand
	Timeout *workerDuration
	Env     map[string]string
	Workdir string
}

func (h *workerFileHandler) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode || n.Kind == yaml.SequenceNode {
		return h.Command.UnmarshalYAML(n)
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a handler is a command or a mapping with command, timeout, env, workdir", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i].Value; k {
		case "command", "timeout", "env", "workdir":
		default:
			return fmt.Errorf("line %d: unknown handler field %q (want command, timeout, env, workdir)", n.Content[i].Line, k)
		}
	}
	var aux struct {
		Command workerCommand     `yaml:"command"`
		Timeout *workerDuration   `yaml:"timeout"`
		Env     map[string]string `yaml:"env"`
		Workdir string            `yaml:"workdir"`
	}
	if err := n.Decode(&aux); err != nil {
		return err
	}
	*h = workerFileHandler(aux)
	return nil
}

// workerCommand is a command given as a list (argv, run directly) or a
// string (run by /bin/sh -c).
type workerCommand []string

func (c *workerCommand) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("line %d: empty command", n.Line)
		}
		*c = shellHandler(s).Argv
		return nil
	case yaml.SequenceNode:
		var argv []string
		if err := n.Decode(&argv); err != nil {
			return err
		}
		if len(argv) == 0 || argv[0] == "" {
			return fmt.Errorf("line %d: empty command", n.Line)
		}
		*c = argv
		return nil
	}
	return fmt.Errorf("line %d: command must be a string or a list of strings", n.Line)
}

// workerDuration is a duration in YAML: "90s", "5m" or a number of seconds.
type workerDuration time.Duration

func (d *workerDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseWorkerDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: invalid duration %q (want e.g. 30s, 5m or a number of seconds)", n.Line, n.Value)
	}
	*d = workerDuration(v)
	return nil
}

func parseWorkerDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, errors.New("negative duration")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		return 0, errors.New("negative duration")
	}
	return d, err
}

// parseWorkerFile decodes a configuration file; unknown keys are errors (a
// misspelled key would otherwise silently fall back to a default).
func parseWorkerFile(data []byte) (*workerFile, error) {
	var f workerFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &f, nil
}

// apply overlays the file on cfg.
func (f *workerFile) apply(cfg *workerConfig) {
	if f.APIURL != "" {
		cfg.APIURL = f.APIURL
	}
	if f.APIKey != "" {
		cfg.APIKey = strings.TrimSpace(f.APIKey)
	}
	if f.WorkerID != "" {
		cfg.WorkerID = f.WorkerID
	}
	if f.PollInterval != nil {
		cfg.PollInterval = time.Duration(*f.PollInterval)
	}
	if f.HeartbeatInterval != nil {
		cfg.HeartbeatInterval = time.Duration(*f.HeartbeatInterval)
	}
	if f.Concurrency != nil {
		cfg.Concurrency = *f.Concurrency
	}
	if f.DrainTimeout != nil {
		cfg.DrainTimeout = time.Duration(*f.DrainTimeout)
	}
	if f.KillGrace != nil {
		cfg.KillGrace = time.Duration(*f.KillGrace)
	}
	if f.LogLevel != "" {
		cfg.LogLevel = f.LogLevel
	}
	if cfg.Handlers == nil {
		cfg.Handlers = map[string]workerHandler{}
	}
	for name, h := range f.Handlers {
		wh := workerHandler{Argv: h.Command, Env: h.Env, Workdir: h.Workdir}
		if h.Timeout != nil {
			wh.Timeout = time.Duration(*h.Timeout)
		}
		cfg.Handlers[name] = wh
	}
}

// ---- flags ----

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
func loadWorkerConfig(args []string, lookup envFunc, output io.Writer) (workerConfig, error) {
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
	flagHandlers := map[string]workerHandler{}
	var flagOrder []string
	fs.Func("handler", "`name=command` run by /bin/sh -c for cues named (or payload task) name; repeatable", func(v string) error {
		name, line, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(line) == "" {
			return errors.New("want name=command")
		}
		flagHandlers[name] = shellHandler(line)
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
		f, err := parseWorkerFile(data)
		if err != nil {
			return cfg, fmt.Errorf("worker config %s: %w", *configPath, err)
		}
		f.apply(&cfg)
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
	cfg = cfg.withDefaults()
	return cfg, cfg.validate()
}
