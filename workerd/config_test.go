package workerd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestParseFileApply: the file overlays only what it sets; unknown keys and
// bad values are errors naming them.
func TestParseFileApply(t *testing.T) {
	t.Parallel()
	f, err := ParseFile([]byte("worker_id: w9\npoll_interval: 1.5\nhandlers:\n  a: echo a\n  b: [/bin/b, --x]\n"))
	require.NoError(t, err)
	cfg := DefaultConfig()
	cfg.APIKey = "k"
	f.Apply(&cfg)
	require.Equal(t, "w9", cfg.WorkerID)
	require.Equal(t, 1500*time.Millisecond, cfg.PollInterval)
	require.Equal(t, DefaultHeartbeatInterval, cfg.HeartbeatInterval, "not in the file: unchanged")
	require.Equal(t, []string{"a", "b"}, cfg.HandlerNames())
	require.Equal(t, ShellHandler("echo a").Argv, cfg.Handlers["a"].Argv)
	require.Equal(t, []string{"/bin/b", "--x"}, cfg.Handlers["b"].Argv)
	cfg = cfg.WithDefaults()
	require.NoError(t, cfg.Validate())
	require.Equal(t, DefaultHandlerTimeout, cfg.Handlers["a"].Timeout)
	require.Equal(t, DefaultUserAgent, cfg.UserAgent)

	for in, want := range map[string]string{
		"pol_interval: 3s\n":                      "pol_interval",
		"kill_grace: -1\n":                        "invalid duration",
		"handlers: {a: {command: []}}\n":          "empty command",
		"handlers: {a: {command: x, tmout: 1}}\n": "unknown handler field \"tmout\"",
	} {
		_, err := ParseFile([]byte(in))
		require.ErrorContains(t, err, want, in)
	}
}
