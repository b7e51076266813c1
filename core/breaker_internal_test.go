package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func roomOf(r map[string]int, _ bool) map[string]int { return r }

func TestDestinationsBreaker(t *testing.T) {
	t.Parallel()
	cfg := DefaultDispatcherConfig()
	cfg.PerDestination, cfg.BreakerFailures, cfg.BreakerCooldown, cfg.BreakerMaxCooldown = 2, 3, 30*time.Second, 90*time.Second
	ds := newDestinations(cfg)
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	begin := func(d string, elastic bool) (gate, time.Time) {
		return ds.begin(d, ds.reserve(d, elastic), now)
	}
	send := func(d string, h health, notBefore time.Time) gate {
		g, _ := begin(d, false)
		if g == gateGo || g == gateProbe {
			ds.end(d, g == gateProbe, h, notBefore, now)
		}
		return g
	}

	// The per-destination limit, unless claimed while alone.
	g1, _ := begin("a", false)
	g2, _ := begin("a", false)
	g3, _ := begin("a", false)
	require.Equal(t, []gate{gateGo, gateGo, gateBusy}, []gate{g1, g2, g3})
	require.Equal(t, map[string]int{"a": 0}, roomOf(ds.room(now, 10, false)))
	g4, _ := begin("a", true)
	require.Equal(t, gateGo, g4, "elastic")
	for range 3 {
		ds.end("a", false, healthOK, time.Time{}, now)
	}
	require.Empty(t, roomOf(ds.room(now, 10, false)), "idle destinations are forgotten")

	// Three failures open the breaker; a 4xx answer in between resets the
	// count (the destination answered).
	send("b", healthSick, time.Time{})
	send("b", healthOK, time.Time{})
	send("b", healthSick, time.Time{})
	send("b", healthSick, time.Time{})
	require.Equal(t, gateGo, send("b", healthSick, time.Time{}))
	g, until := begin("b", false)
	require.Equal(t, gatePark, g)
	require.Equal(t, now.Add(30*time.Second), until)
	r1, skipped1 := ds.room(now, 10, true)
	r2, skipped2 := ds.room(now, 10, true)
	require.ElementsMatch(t, []map[string]int{{"b": 0}, {"b": 10}}, []map[string]int{r1, r2}, "parked destinations: every other claim parks their jobs, the others skip them")
	require.NotEqual(t, skipped1, skipped2)
	r3, skipped3 := ds.room(now, 1, false)
	require.Equal(t, map[string]int{"b": 2}, r3, "RunOnce: every claim parks, at least a limit's worth")
	require.False(t, skipped3)
	require.Equal(t, 30*time.Second, ds.nextReopen(now))

	// Half-open: one probe; its failure reopens for twice as long.
	now = now.Add(30 * time.Second)
	require.Equal(t, map[string]int{"b": 1}, roomOf(ds.room(now, 10, false)))
	gp, _ := begin("b", false)
	require.Equal(t, gateProbe, gp)
	require.Equal(t, map[string]int{"b": 0}, roomOf(ds.room(now, 10, false)), "the probe is in flight")
	gb, _ := begin("b", false)
	require.Equal(t, gateBusy, gb)
	ds.end("b", true, healthSick, time.Time{}, now)
	_, until = begin("b", false)
	require.Equal(t, now.Add(60*time.Second), until)

	// The next failed probe: 120 s capped at 90 s, unless Retry-After says
	// longer (capped at MaxRetryAfter).
	now = now.Add(60 * time.Second)
	require.Equal(t, gateProbe, send("b", healthSick, time.Time{}))
	_, until = begin("b", false)
	require.Equal(t, now.Add(90*time.Second), until)
	now = now.Add(90 * time.Second)
	require.Equal(t, gateProbe, send("b", healthSick, now.Add(10*time.Hour)))
	_, until = begin("b", false)
	require.Equal(t, now.Add(cfg.MaxRetryAfter), until)

	// A successful probe closes it.
	now = until
	require.Equal(t, gateProbe, send("b", healthOK, time.Time{}))
	require.Equal(t, gateGo, send("b", healthSick, time.Time{}))
	require.Equal(t, []BreakerState{{Destination: "b", Failures: 1}}, ds.list(), "closed, one failure counted since")
}

// TestDestinationsAdmitInClaimOrder: jobs admitted by one claim keep their
// place when a later elastic claim of the same destination is reserved
// before their attempts begin (they used to be handed back as busy, which
// left a destination that had just become alone with fewer attempts in
// flight than it was given).
func TestDestinationsAdmitInClaimOrder(t *testing.T) {
	t.Parallel()
	cfg := DefaultDispatcherConfig()
	cfg.PerDestination = 2
	ds := newDestinations(cfg)
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	first := []bool{ds.reserve("a", false), ds.reserve("a", false)}
	later := []bool{ds.reserve("a", true), ds.reserve("a", true), ds.reserve("a", true)}
	var gates []gate
	for _, ok := range append(later, first...) { // the later claim's attempts start first
		g, _ := ds.begin("a", ok, now)
		gates = append(gates, g)
	}
	require.Equal(t, []gate{gateGo, gateGo, gateGo, gateGo, gateGo}, gates)
	require.Equal(t, []BreakerState{{Destination: "a", InFlight: 5}}, ds.list())
	require.False(t, ds.reserve("a", false), "beyond the limit and not elastic: refused")
}

// A destination alone with more than the limit in flight may be given a
// room of exactly the limit (every free slot but one limit's worth); the
// jobs of that claim are granted by it. They used to be handed back as
// busy at once and waited for the idle poll (seen as a 250 ms lateness tail
// in a burst of 300 due at one instant).
func TestDestinationsAdmitSoloRoomOfTheLimit(t *testing.T) {
	t.Parallel()
	cfg := DefaultDispatcherConfig()
	cfg.PerDestination, cfg.Concurrency = 2, 8
	ds := newDestinations(cfg)
	now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
	claim := func(free, n int) []*DeliveryJob {
		room, _ := ds.room(now, free, true)
		c := &DeliveryClaim{Now: now, Limit: free, PerDestination: cfg.PerDestination, Room: room}
		jobs := make([]*DeliveryJob, min(n, c.RoomFor("a")))
		for i := range jobs {
			jobs[i] = &DeliveryJob{Destination: "a"}
		}
		ds.observe(ds.admit(c, jobs), c.RoomFor)
		return jobs
	}
	begin := func(jobs []*DeliveryJob) (gates []gate) {
		for _, j := range jobs {
			g, _ := ds.begin(j.Destination, j.admitted, now)
			gates = append(gates, g)
		}
		return gates
	}
	require.Equal(t, []gate{gateGo, gateGo}, begin(claim(8, 100)), "its share")
	require.Equal(t, []gate{gateGo, gateGo, gateGo, gateGo}, begin(claim(6, 100)), "alone: every free slot but one limit's worth")
	for range 2 {
		ds.end("a", false, healthOK, time.Time{}, now)
	}
	third := claim(4, 100)
	require.Len(t, third, 2, "room of exactly the limit, with 4 in flight")
	require.Equal(t, []gate{gateGo, gateGo}, begin(third), "granted by the claim's room, not handed back")
	require.Equal(t, []BreakerState{{Destination: "a", InFlight: 6}}, ds.list())
}
