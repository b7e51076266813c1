package core

import (
	"sync"
	"time"
)

// destinations tracks, per destination (host[:port]) and in this process,
// the attempts in flight and a circuit breaker:
//
//   - closed: up to PerDestination attempts in flight; BreakerFailures
//     consecutive failures (timeouts, connection errors, 429, 5xx) open it;
//   - open until the cool-down ends: jobs of the destination are claimed
//     and parked at once (a failed attempt each, due again no earlier than
//     the end of the cool-down), so they hold no slot and other replicas
//     do not send them either;
//   - half-open after the cool-down: one probe goes out; success (or any
//     answer that is not a failure) closes the breaker, a failure opens it
//     again for twice as long (up to BreakerMaxCooldown).
//
// The cool-down is at least the receiver's Retry-After.
//
// The per-destination limit is work-conserving: when a claim found due
// work for one destination only and took all the room it had, that
// destination is alone ("solo") and may use every free slot but one
// limit's worth, kept free for a destination that shows up; the first
// claim that finds two destinations ends it. Safe for concurrent use.
type destinations struct {
	limit    int
	solo     string
	soloSet  bool
	parkTurn bool // this claim parks open destinations' jobs
	failures int
	cooldown time.Duration
	maxCool  time.Duration
	maxRetry time.Duration
	mu       sync.Mutex
	m        map[string]*destState
}

type destState struct {
	inflight  int
	fails     int       // consecutive failures
	trips     int       // openings since the last success
	openUntil time.Time // zero: closed
	probing   bool      // half-open: the probe is in flight
}

func newDestinations(cfg DispatcherConfig) *destinations {
	return &destinations{limit: cfg.PerDestination, failures: cfg.BreakerFailures, cooldown: cfg.BreakerCooldown,
		maxCool: cfg.BreakerMaxCooldown, maxRetry: cfg.MaxRetryAfter, m: map[string]*destState{}}
}

// gate is what begin decided for one attempt.
type gate int

const (
	gateGo    gate = iota // send (counted in flight: call end)
	gateProbe             // send as the half-open probe (call end)
	gatePark              // breaker open: park without sending
	gateBusy              // no room (limit reached, or a probe in flight): hand back
)

// health is what an attempt says about its destination.
type health int

const (
	healthNeutral health = iota // nothing learnt (not sent, refused by policy)
	healthOK                    // it answered
	healthSick                  // timeout, connection failure, 429, 5xx
)

// open reports whether s's breaker is open (cool-down running) at now.
func (s *destState) open(now time.Time) bool { return !s.openUntil.IsZero() && now.Before(s.openUntil) }

// halfOpen reports whether s's cool-down ended without a success since.
func (s *destState) halfOpen(now time.Time) bool {
	return !s.openUntil.IsZero() && !now.Before(s.openUntil)
}

// room is the per-destination room of the next claim, given the engine's
// free slots: free per-destination slots of destinations with attempts in
// flight; for open (parked) ones every free slot on every other claim (to
// park their due jobs) and none on the others; one probe or none for
// half-open ones; for a destination alone, every free slot but one
// limit's worth.
//
// alternate false makes every claim a parking one (RunOnce); skippedOpen
// reports that this claim skipped open destinations, so the next should
// come at once.
func (t *destinations) room(now time.Time, free int, alternate bool) (room map[string]int, skippedOpen bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out map[string]int
	set := func(d string, r int) {
		if out == nil {
			out = map[string]int{}
		}
		out[d] = r
	}
	if t.soloSet {
		s := t.m[t.solo]
		if s == nil || s.openUntil.IsZero() {
			inflight := 0
			if s != nil {
				inflight = s.inflight
			}
			if r := free - t.limit; r > t.limit-inflight {
				set(t.solo, r)
			}
		}
	}
	t.parkTurn = !t.parkTurn || !alternate
	for d, s := range t.m {
		if _, ok := out[d]; ok {
			continue
		}
		switch {
		case s.open(now):
			// Claimed only to be parked, many at a time, every other
			// claim; skipped by the others, so a parked backlog never
			// fills a claim's scan (see DeliveryClaim).
			if t.parkTurn {
				set(d, max(free, t.limit))
			} else {
				set(d, 0)
				skippedOpen = true
			}
		case s.halfOpen(now):
			if s.probing || s.inflight > 0 {
				set(d, 0)
			} else {
				set(d, 1)
			}
		case s.inflight > 0:
			set(d, max(t.limit-s.inflight, 0))
		}
	}
	return out, skippedOpen
}

// observe learns from a claim's jobs per destination whether one
// destination is alone: the claim found only it and took all its room.
// started reports that it just became alone (it may take more at once).
func (t *destinations) observe(per map[string]int, roomFor func(string) int) (started bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch len(per) {
	case 0:
	case 1:
		for d, n := range per {
			if n >= roomFor(d) {
				started = !t.soloSet || t.solo != d
				t.solo, t.soloSet = d, true
			} else if t.soloSet && t.solo != d {
				t.soloSet = false
			}
		}
	default:
		t.soloSet = false
	}
	return started
}

// admit reserves a claim's jobs (reserve) in claim order and returns how
// many each destination got: a job is granted when it is within the room
// the claim gave its destination. That room
// already left out the attempts in flight, and a destination alone may be
// given room beyond the limit whatever its size — even a room of exactly
// the limit while more than the limit is in flight (such jobs used to be
// handed back at once, and waited for the idle poll to be claimed again:
// TestDestinationsAdmitSoloRoomOfTheLimit).
func (t *destinations) admit(c *DeliveryClaim, jobs []*DeliveryJob) (per map[string]int) {
	per = make(map[string]int, 1)
	for _, j := range jobs {
		per[j.Destination]++
		j.admitted = t.reserve(j.Destination, per[j.Destination] <= c.RoomFor(j.Destination))
	}
	return per
}

// reserve counts a claimed job of d in flight from its claim on, so the
// next claim's room already leaves it out, and says whether the job is
// admitted: granted by its claim's room, or within d's limit.
// Admission is decided here, in claim order, not when the attempt starts:
// a later elastic claim may raise d's count above the limit before an
// earlier job's attempt begins, and that job must not be turned away for
// it (regression: TestDestinationsAdmitInClaimOrder). begin then decides
// the job's fate.
func (t *destinations) reserve(d string, granted bool) (admitted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[d]
	if s == nil {
		s = &destState{}
		t.m[d] = s
	}
	s.inflight++
	return granted || s.inflight <= t.limit
}

// begin decides whether a reserved attempt to d may go out now; admitted
// is what reserve said (false only when a claim returned more jobs than
// d's room). Unless it is sent (gateGo, gateProbe: call end), the
// reservation is dropped.
func (t *destinations) begin(d string, admitted bool, now time.Time) (g gate, until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[d]
	if s == nil { // not reserved: count it now
		s = &destState{inflight: 1}
		t.m[d] = s
	}
	switch {
	case s.open(now):
		g, until = gatePark, s.openUntil
	case s.halfOpen(now):
		if !s.probing {
			s.probing = true
			return gateProbe, time.Time{}
		}
		g = gateBusy
	case !admitted:
		g = gateBusy
	default:
		return gateGo, time.Time{}
	}
	s.inflight--
	t.forgetIdle(d, s)
	return g, until
}

// forgetIdle drops the state of a destination with nothing to remember.
func (t *destinations) forgetIdle(d string, s *destState) {
	if s.inflight == 0 && s.fails == 0 && s.openUntil.IsZero() && !s.probing {
		delete(t.m, d)
	}
}

// end books a finished attempt that begin let go; notBefore is the
// receiver's Retry-After as a time (zero: none).
func (t *destinations) end(d string, probe bool, h health, notBefore, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[d]
	if s == nil {
		return
	}
	s.inflight--
	if probe {
		s.probing = false
	}
	switch h {
	case healthOK:
		s.fails, s.trips, s.openUntil = 0, 0, time.Time{}
	case healthSick:
		s.fails++
		switch {
		case probe || s.halfOpen(now):
			t.trip(s, notBefore, now)
		case s.open(now):
			// Attempts that were in flight when it opened: a later
			// Retry-After extends the cool-down.
			if notBefore.After(s.openUntil) {
				s.openUntil = notBefore
			}
		case s.fails >= t.failures:
			t.trip(s, notBefore, now)
		}
	}
	t.forgetIdle(d, s)
}

// trip opens s's breaker: the cool-down doubles with every opening since
// the last success, and a longer Retry-After wins.
func (t *destinations) trip(s *destState, notBefore, now time.Time) {
	s.trips++
	cool := t.cooldown
	for i := 1; i < s.trips && cool < t.maxCool; i++ {
		cool *= 2
	}
	cool = min(cool, t.maxCool)
	until := now.Add(cool)
	if lim := now.Add(t.maxRetry); notBefore.After(lim) {
		notBefore = lim
	}
	if notBefore.After(until) {
		until = notBefore
	}
	s.openUntil = until
}

// nextReopen is how long until the earliest open breaker turns half-open
// (0: none is open).
func (t *destinations) nextReopen(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next time.Duration
	for _, s := range t.m {
		if s.open(now) {
			if w := s.openUntil.Sub(now); next == 0 || w < next {
				next = w
			}
		}
	}
	return next
}

// BreakerState is one destination's breaker as /health and tests see it.
type BreakerState struct {
	Destination string
	InFlight    int
	Failures    int
	OpenUntil   *time.Time // nil: closed
}

// Breakers lists the destinations with attempts in flight, failures or an
// open breaker in this process.
func (d *Dispatcher) Breakers() []BreakerState { return d.dests.list() }

func (t *destinations) list() []BreakerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]BreakerState, 0, len(t.m))
	for name, s := range t.m {
		b := BreakerState{Destination: name, InFlight: s.inflight, Failures: s.fails}
		if !s.openUntil.IsZero() {
			u := s.openUntil
			b.OpenUntil = &u
		}
		out = append(out, b)
	}
	return out
}
