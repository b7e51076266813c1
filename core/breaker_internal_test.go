package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDestinationsBreaker(t *testing.T) {
	t.Parallel()
	cfg := DefaultDispatcherConfig()
	cfg.PerDestination, cfg.BreakerFailures, cfg.BreakerCooldown, cfg.BreakerMaxCooldown = 2, 3, 30*time.Second, 90*time.Second
	ds := newDestinations(cfg)
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	send := func(d string, h health, notBefore time.Time) gate {
		g, _ := ds.begin(d, false, now)
		if g == gateGo || g == gateProbe {
			ds.end(d, g == gateProbe, h, notBefore, now)
		}
		return g
	}

	// The per-destination limit, unless claimed while alone.
	g1, _ := ds.begin("a", false, now)
	g2, _ := ds.begin("a", false, now)
	g3, _ := ds.begin("a", false, now)
	require.Equal(t, []gate{gateGo, gateGo, gateBusy}, []gate{g1, g2, g3})
	require.Equal(t, map[string]int{"a": 0}, ds.room(now, 10))
	g4, _ := ds.begin("a", true, now)
	require.Equal(t, gateGo, g4, "elastic")
	for range 3 {
		ds.end("a", false, healthOK, time.Time{}, now)
	}
	require.Empty(t, ds.room(now, 10), "idle destinations are forgotten")

	// Three failures open the breaker; a 4xx answer in between resets the
	// count (the destination answered).
	send("b", healthSick, time.Time{})
	send("b", healthOK, time.Time{})
	send("b", healthSick, time.Time{})
	send("b", healthSick, time.Time{})
	require.Equal(t, gateGo, send("b", healthSick, time.Time{}))
	g, until := ds.begin("b", false, now)
	require.Equal(t, gatePark, g)
	require.Equal(t, now.Add(30*time.Second), until)
	_, parked := ds.room(now, 10)["b"]
	require.False(t, parked, "parked destinations are claimed at the full limit, to park their jobs")
	require.Equal(t, 30*time.Second, ds.nextReopen(now))

	// Half-open: one probe; its failure reopens for twice as long.
	now = now.Add(30 * time.Second)
	require.Equal(t, map[string]int{"b": 1}, ds.room(now, 10))
	gp, _ := ds.begin("b", false, now)
	require.Equal(t, gateProbe, gp)
	require.Equal(t, map[string]int{"b": 0}, ds.room(now, 10), "the probe is in flight")
	gb, _ := ds.begin("b", false, now)
	require.Equal(t, gateBusy, gb)
	ds.end("b", true, healthSick, time.Time{}, now)
	_, until = ds.begin("b", false, now)
	require.Equal(t, now.Add(60*time.Second), until)

	// The next failed probe: 120 s capped at 90 s, unless Retry-After says
	// longer (capped at MaxRetryAfter).
	now = now.Add(60 * time.Second)
	require.Equal(t, gateProbe, send("b", healthSick, time.Time{}))
	_, until = ds.begin("b", false, now)
	require.Equal(t, now.Add(90*time.Second), until)
	now = now.Add(90 * time.Second)
	require.Equal(t, gateProbe, send("b", healthSick, now.Add(10*time.Hour)))
	_, until = ds.begin("b", false, now)
	require.Equal(t, now.Add(cfg.MaxRetryAfter), until)

	// A successful probe closes it.
	now = until
	require.Equal(t, gateProbe, send("b", healthOK, time.Time{}))
	require.Equal(t, gateGo, send("b", healthSick, time.Time{}))
	require.Equal(t, []BreakerState{{Destination: "b", Failures: 1}}, ds.list(), "closed, one failure counted since")
}
