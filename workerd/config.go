package workerd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of `cueapi worker`.
const (
	DefaultUserAgent         = "cueapi-worker-go"
	DefaultAPIURL            = "http://127.0.0.1:8000"
	DefaultPollInterval      = 5 * time.Second
	DefaultHeartbeatInterval = 30 * time.Second
	DefaultDrainTimeout      = 30 * time.Second
	DefaultKillGrace         = 5 * time.Second
	DefaultHandlerTimeout    = 10 * time.Minute
	DefaultReportBackoff     = time.Second
)

// Config configures the pull worker. The zero value of most fields
// means "the default" (see WithDefaults); DrainTimeout is the exception: zero
// means "do not wait for running jobs at shutdown".
type Config struct {
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
	// LogLevel is debug, info (default), warn or error; the caller builds
	// the logger from it.
	LogLevel string
	// UserAgent is sent with every request; DefaultUserAgent when empty
	// (`cueapi worker` appends its version).
	UserAgent string
	// Handlers maps a cue name (or a payload "task") to what runs it.
	Handlers map[string]Handler

	// ReportBackoff is the first pause between outcome-report retries
	// (doubled each time). Not settable from the file or flags.
	ReportBackoff time.Duration
	// HTTPClient overrides the HTTP client (tests). Its Timeout should be set.
	HTTPClient *http.Client
}

// Handler is what runs one kind of job.
type Handler struct {
	// Argv is the command; a shell string is stored as /bin/sh -c <string>.
	Argv []string
	// Timeout kills the job's process group when it runs longer.
	Timeout time.Duration
	// Env is added to the job's environment (it wins over everything else).
	Env map[string]string
	// Workdir is the job's working directory ("" = the worker's).
	Workdir string
}

// ShellHandler is a handler running a shell command line.
func ShellHandler(line string) Handler {
	return Handler{Argv: []string{"/bin/sh", "-c", line}}
}

// DefaultConfig is the configuration before the environment, the file
// and the flags (cmd/cueapi layers them on it).
func DefaultConfig() Config {
	return Config{
		APIURL:            DefaultAPIURL,
		WorkerID:          DefaultID(),
		PollInterval:      DefaultPollInterval,
		HeartbeatInterval: DefaultHeartbeatInterval,
		Concurrency:       1,
		DrainTimeout:      DefaultDrainTimeout,
		KillGrace:         DefaultKillGrace,
		LogLevel:          "info",
		Handlers:          map[string]Handler{},
	}
}

// DefaultID is the default worker id: host name and process id.
func DefaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// WithDefaults fills the fields whose zero value is not usable.
func (c Config) WithDefaults() Config {
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.WorkerID == "" {
		c.WorkerID = DefaultID()
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.KillGrace <= 0 {
		c.KillGrace = DefaultKillGrace
	}
	if c.ReportBackoff <= 0 {
		c.ReportBackoff = DefaultReportBackoff
	}
	if c.DrainTimeout < 0 {
		c.DrainTimeout = 0
	}
	hs := make(map[string]Handler, len(c.Handlers))
	for name, h := range c.Handlers {
		if h.Timeout <= 0 {
			h.Timeout = DefaultHandlerTimeout
		}
		hs[name] = h
	}
	c.Handlers = hs
	return c
}

// validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	if _, err := baseURL(c.APIURL); err != nil {
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

// baseURL normalizes the API base for the generated client, whose
// operation paths already start with /v1: "http://h:8000/v1/" and
// "http://h:8000" both become "http://h:8000/".
func baseURL(raw string) (string, error) {
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

// HandlerNames is the sorted list of handler names.
func (c Config) HandlerNames() []string {
	names := make([]string, 0, len(c.Handlers))
	for n := range c.Handlers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ---- the YAML file ----

// File is the YAML configuration file. Durations are Go duration
// strings ("5s", "10m") or bare numbers of seconds.
type File struct {
	APIURL            string                 `yaml:"api_url"`
	APIKey            string                 `yaml:"api_key"`
	WorkerID          string                 `yaml:"worker_id"`
	PollInterval      *yamlDuration          `yaml:"poll_interval"`
	HeartbeatInterval *yamlDuration          `yaml:"heartbeat_interval"`
	Concurrency       *int                   `yaml:"concurrency"`
	DrainTimeout      *yamlDuration          `yaml:"drain_timeout"`
	KillGrace         *yamlDuration          `yaml:"kill_grace"`
	LogLevel          string                 `yaml:"log_level"`
	Handlers          map[string]fileHandler `yaml:"handlers"`
}

// fileHandler is one handler in the file: either a mapping
// {command, timeout, env, workdir} or just the command (string or list).
type fileHandler struct {
	Command yamlCommand
	Timeout *yamlDuration
	Env     map[string]string
	Workdir string
}

func (h *fileHandler) UnmarshalYAML(n *yaml.Node) error {
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
		Command yamlCommand       `yaml:"command"`
		Timeout *yamlDuration     `yaml:"timeout"`
		Env     map[string]string `yaml:"env"`
		Workdir string            `yaml:"workdir"`
	}
	if err := n.Decode(&aux); err != nil {
		return err
	}
	*h = fileHandler(aux)
	return nil
}

// yamlCommand is a command given as a list (argv, run directly) or a
// string (run by /bin/sh -c).
type yamlCommand []string

func (c *yamlCommand) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("line %d: empty command", n.Line)
		}
		*c = ShellHandler(s).Argv
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

// yamlDuration is a duration in YAML: "90s", "5m" or a number of seconds.
type yamlDuration time.Duration

func (d *yamlDuration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: invalid duration %q (want e.g. 30s, 5m or a number of seconds)", n.Line, n.Value)
	}
	*d = yamlDuration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
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

// ParseFile decodes a configuration file; unknown keys are errors (a
// misspelled key would otherwise silently fall back to a default).
func ParseFile(data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &f, nil
}

// apply overlays the file on cfg.
func (f *File) Apply(cfg *Config) {
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
		cfg.Handlers = map[string]Handler{}
	}
	for name, h := range f.Handlers {
		wh := Handler{Argv: h.Command, Env: h.Env, Workdir: h.Workdir}
		if h.Timeout != nil {
			wh.Timeout = time.Duration(*h.Timeout)
		}
		cfg.Handlers[name] = wh
	}
}
