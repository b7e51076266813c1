package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SchedulerConfig tunes the scheduler.
type SchedulerConfig struct {
	// InstanceID names this process in heartbeats.
	InstanceID string
	// BatchSize is how many due cues one transaction fires.
	BatchSize int
	// LookAhead materializes executions this long before they are due, so
	// that they are ready (and delivered) on time even when thousands fall
	// due at the same instant. They are never delivered before their
	// scheduled time (the dispatcher may claim them up to its ClaimAhead
	// early, and sends them at that time). Zero disables it.
	LookAhead time.Duration
	// IdlePoll bounds how long the scheduler sleeps without looking at the
	// database (cues created on other replicas are seen within it).
	IdlePoll time.Duration
	// MissedAfter: an occurrence more than this late when the scheduler gets
	// to it (downtime) is "missed" and handled by the cue's catch-up policy.
	MissedAfter time.Duration
	// MaxBatchesPerTick bounds one tick's work so heartbeats keep flowing.
	MaxBatchesPerTick int
	// Observer receives the firing lag of every occurrence (nil: none).
	Observer Observer
}

// DefaultSchedulerConfig returns production defaults.
func DefaultSchedulerConfig() SchedulerConfig {
	return SchedulerConfig{
		InstanceID: "cueapi", BatchSize: 500, LookAhead: time.Second, IdlePoll: 500 * time.Millisecond,
		MissedAfter: 5 * time.Minute, MaxBatchesPerTick: 100,
	}
}

// Scheduler turns due cues into executions: exactly one per (cue,
// scheduled time), any number of replicas at once, no leader. It sleeps
// until the earliest next_run (or a wake-up), never on a fixed tick. Safe
// for concurrent use.
type Scheduler struct {
	cfg   SchedulerConfig
	store schedulerStore
	clock Clock
	log   Logger
	wake  chan struct{}
	// onDue (may be nil) is told every due instant a tick created
	// executions for (Dispatcher.WakeAt).
	onDue    func(due time.Time)
	maxCatch int
}

// NewScheduler wires a scheduler. onDue (may be nil) is told every instant
// the executions a tick created are due at: the dispatcher wakes on time.
func NewScheduler(cfg SchedulerConfig, store schedulerStore, clock Clock, log Logger, onDue func(due time.Time)) *Scheduler {
	def := DefaultSchedulerConfig()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = def.BatchSize
	}
	if cfg.IdlePoll <= 0 {
		cfg.IdlePoll = def.IdlePoll
	}
	if cfg.MissedAfter <= 0 {
		cfg.MissedAfter = def.MissedAfter
	}
	if cfg.MaxBatchesPerTick <= 0 {
		cfg.MaxBatchesPerTick = def.MaxBatchesPerTick
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = def.InstanceID
	}
	cfg.Observer = observerOr(cfg.Observer)
	return &Scheduler{cfg: cfg, store: store, clock: clock, log: log, wake: make(chan struct{}, 1), onDue: onDue, maxCatch: MaxCatchUpAll}
}

// Wake makes a sleeping scheduler look at the database now.
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// TickResult reports one tick.
type TickResult struct {
	Cues     int
	Inserted int
	// Next is the earliest next_run still pending (zero when none).
	Next time.Time
}

// Tick fires every cue due by now (+ look-ahead), in batches, and records a
// heartbeat.
func (s *Scheduler) Tick(ctx context.Context) (TickResult, error) {
	start := s.clock.Now()
	var res TickResult
	var dues []time.Time
	for i := 0; i < s.cfg.MaxBatchesPerTick; i++ {
		now := s.clock.Now()
		var (
			lags      []time.Duration
			batchDues []time.Time
		)
		r, err := s.store.CueFireDue(ctx, &CueFireDueParams{
			Now: now, Horizon: now.Add(s.cfg.LookAhead), Limit: s.cfg.BatchSize,
			Plan: func(c *Cue) FirePlan {
				p := s.Plan(c, now)
				for _, o := range p.Occurrences {
					lags = append(lags, max(now.Sub(o), 0))
					batchDues = append(batchDues, o)
				}
				return p
			},
		})
		if err != nil {
			return res, fmt.Errorf("scheduler: fire due cues: %w", err)
		}
		for _, l := range lags {
			s.cfg.Observer.CueFired(l)
		}
		res.Cues += r.Cues
		res.Inserted += r.Inserted
		if r.Inserted > 0 {
			dues = append(dues, batchDues...)
		}
		if r.Cues < s.cfg.BatchSize {
			break
		}
	}
	if s.onDue != nil {
		for _, t := range dues {
			s.onDue(t)
		}
	}
	next, err := s.store.CueNextDueAt(ctx)
	switch {
	case err == nil:
		res.Next = next
	case !errors.Is(err, ErrNotFound):
		return res, fmt.Errorf("scheduler: next due: %w", err)
	}
	end := s.clock.Now()
	if err := s.store.SchedulerHeartbeatPut(ctx, &SchedulerHeartbeat{
		InstanceID: s.cfg.InstanceID, LastRun: end, CuesLastCycle: res.Cues, CycleDurationMs: int(end.Sub(start) / time.Millisecond),
	}); err != nil {
		s.log.Warn("scheduler heartbeat failed", "err", err)
	}
	return res, nil
}

// Run ticks until ctx ends: after each tick it sleeps until the earliest
// next_run minus the look-ahead, at most IdlePoll, or until Wake. A wake-up
// (a cue created or changed here or on another replica) first reads only
// the earliest next_run: the scheduler ticks when that is within the
// look-ahead or IdlePoll has passed since its last tick (the heartbeat),
// and otherwise sleeps again, so a stream of creations does not cost a
// firing transaction and a heartbeat write each.
func (s *Scheduler) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	tick := true
	var lastTick time.Time
	for {
		if !tick && s.clock.Now().Sub(lastTick) >= s.cfg.IdlePoll {
			tick = true
		}
		var next time.Time
		var err error
		if tick {
			var res TickResult
			res, err = s.Tick(ctx)
			next, lastTick = res.Next, s.clock.Now()
		} else if next, err = s.store.CueNextDueAt(ctx); errors.Is(err, ErrNotFound) {
			next, err = time.Time{}, nil
		}
		wait := s.cfg.IdlePoll
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Error("scheduler tick failed", "err", err)
			wait = backoff
			if backoff < 5*time.Second {
				backoff *= 2
			}
		} else {
			backoff = 100 * time.Millisecond
			if !next.IsZero() {
				if d := next.Sub(s.clock.Now()) - s.cfg.LookAhead; d < wait {
					wait = d
				}
			}
			if !tick {
				wait = min(wait, s.cfg.IdlePoll-s.clock.Now().Sub(lastTick))
			}
		}
		if wait <= 0 {
			if ctx.Err() != nil {
				return
			}
			tick = true
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			tick = err != nil // after a failure, retry the tick itself
		case <-t.C:
			tick = true
		}
		t.Stop()
	}
}

// maxEnumerate bounds how many missed occurrences Plan walks before it
// re-seeds near now (a per-minute cue after months of downtime).
const maxEnumerate = 10_000

// Plan decides what to fire for a due cue at now. It never fails: a cue
// whose schedule no longer evaluates is paused with LastError set, so one
// bad cue never blocks the others.
func (s *Scheduler) Plan(c *Cue, now time.Time) FirePlan {
	plan := FirePlan{Status: c.Status, NextRun: c.NextRun}
	if c.Status != CueActive || c.NextRun == nil {
		return plan
	}
	horizon := now.Add(s.cfg.LookAhead)
	first := c.NextRun.UTC()
	if c.Schedule.Type != ScheduleRecurring {
		plan.Occurrences = []time.Time{first}
		plan.NextRun = nil
		return plan
	}
	quarantine := func(err error) FirePlan {
		msg := fmt.Sprintf("schedule no longer evaluates (%v); cue paused", err)
		return FirePlan{Status: CuePaused, LastError: &msg}
	}
	if c.Schedule.Cron == nil {
		return quarantine(errors.New("no cron expression"))
	}
	cron, err := ParseCron(*c.Schedule.Cron)
	if err != nil {
		return quarantine(err)
	}
	loc, err := LoadZone(c.Schedule.Timezone)
	if err != nil {
		return quarantine(err)
	}
	missedBefore := now.Add(-s.cfg.MissedAfter)
	var missed, onTime []time.Time
	missedCount := 0
	t := first
	for steps := 0; !t.After(horizon); steps++ {
		if t.Before(missedBefore) {
			missedCount++
			missed = append(missed, t)
			if len(missed) > s.maxCatch {
				missed = missed[1:]
			}
		} else {
			onTime = append(onTime, t)
		}
		if steps >= maxEnumerate && t.Before(missedBefore) {
			// Re-seed just before the missed boundary; the occurrences in
			// between are counted as skipped without being walked.
			missedCount++ // at least one more was skipped
			if t, err = cron.NextAfter(missedBefore.Add(-time.Nanosecond), loc); err != nil {
				return quarantine(err)
			}
			continue
		}
		if t, err = cron.NextAfter(t, loc); err != nil {
			return quarantine(err)
		}
	}
	plan.NextRun = &t
	plan.Occurrences = onTime
	switch c.CatchUp {
	case CatchUpSkip:
		plan.Skipped = missedCount
	case CatchUpAll:
		plan.Occurrences = append(append([]time.Time{}, missed...), onTime...)
		plan.Skipped = missedCount - len(missed)
	default: // latest
		if len(onTime) == 0 && len(missed) > 0 {
			plan.Occurrences = []time.Time{missed[len(missed)-1]}
			plan.Skipped = missedCount - 1
		} else {
			plan.Skipped = missedCount
		}
	}
	return plan
}

// SchedulerHeartbeat is one scheduler cycle.
type SchedulerHeartbeat struct {
	InstanceID      string
	LastRun         time.Time
	CuesLastCycle   int
	CycleDurationMs int
}

// SchedulerStore persists the scheduler instances' heartbeats. Every method
// is safe for concurrent use by any number of processes sharing the
// database; tenant-scoped methods return ErrNotFound for another tenant's
// rows. Methods are sorted by name.
type SchedulerStore interface {
	// SchedulerHeartbeatLatest returns the most recent cycle of any
	// instance. ErrNotFound when none was recorded.
	SchedulerHeartbeatLatest(ctx context.Context) (*SchedulerHeartbeat, error)

	// SchedulerHeartbeatPut records a scheduler cycle of one instance.
	SchedulerHeartbeatPut(ctx context.Context, p *SchedulerHeartbeat) error
}

// schedulerStore is what the Scheduler persists through.
type schedulerStore interface {
	CueStore
	SchedulerStore
}
