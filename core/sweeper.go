package core

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Sweeper runs the periodic transitions that no request triggers: expired
// worker leases, unclaimed worker executions, missed outcome deadlines and
// housekeeping. Every step is a conditional update, so any number of
// replicas may sweep at once. Safe for concurrent use.
type Sweeper struct {
	work       sweeperStore
	workers    WorkersConfig
	dispatcher *Dispatcher
	alerts     *Alerts
	clock      Clock
	log        Logger

	mu        sync.Mutex
	lastPurge time.Time
}

// NewSweeper wires the sweeper.
func NewSweeper(work sweeperStore, workers WorkersConfig, dispatcher *Dispatcher, alerts *Alerts, clock Clock, log Logger) *Sweeper {
	if workers.UnclaimedTimeout <= 0 {
		workers.UnclaimedTimeout = DefaultWorkerUnclaimedTimeout
	}
	workers.Observer = observerOr(workers.Observer)
	return &Sweeper{work: work, workers: workers, dispatcher: dispatcher, alerts: alerts, clock: clock, log: log}
}

// Messages of the worker sweep.
const (
	MsgLeaseReset     = "Reset: worker claim lease expired"
	MsgLeaseExhausted = "Failed: worker claim lease expired, max attempts exhausted"
	MsgUnclaimed      = "No worker claimed this execution within timeout window"
)

// SweepOnce runs every step once; a failing step does not stop the others.
func (s *Sweeper) SweepOnce(ctx context.Context) error {
	now := s.clock.Now()
	var errs []error
	finished, err := s.work.ExecutionSweepWorkerLeases(ctx, &ExecutionSweepWorkerLeasesParams{
		Now: now, UnclaimedTimeout: s.workers.UnclaimedTimeout, Limit: 500,
		ResetMessage: MsgLeaseReset, ExhaustedMessage: MsgLeaseExhausted, MissedMessage: MsgUnclaimed,
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range finished {
		msg := MsgUnclaimed
		if d.Execution.ErrorMessage != nil {
			msg = *d.Execution.ErrorMessage
		}
		if msg == MsgUnclaimed {
			s.workers.Observer.LeaseExpired("unclaimed")
		} else {
			s.workers.Observer.LeaseExpired("worker")
		}
		if s.dispatcher != nil {
			s.dispatcher.Escalate(d, msg)
		}
		if s.alerts != nil {
			s.alerts.RunFinished(ctx, d.Execution.TenantID, d.Cue)
		}
	}
	timedOut, err := s.work.ExecutionSweepOutcomeDeadlines(ctx, &ExecutionSweepOutcomeDeadlinesParams{Now: now, Limit: 500})
	if err != nil {
		errs = append(errs, err)
	}
	for _, d := range timedOut {
		if s.alerts != nil {
			s.alerts.OutcomeTimeout(ctx, d.Execution, d.Cue)
			s.alerts.RunFinished(ctx, d.Execution.TenantID, d.Cue)
		}
	}
	s.mu.Lock()
	due := now.Sub(s.lastPurge) >= time.Hour
	s.mu.Unlock()
	if due {
		before := now.Add(-24 * time.Hour)
		_, codeErr := s.work.DeviceCodePurge(ctx, &DeviceCodePurgeParams{Before: before})
		_, echoErr := s.work.EchoPurge(ctx, &EchoPurgeParams{Before: before})
		if err := errors.Join(codeErr, echoErr); err != nil {
			errs = append(errs, err)
		} else {
			s.mu.Lock()
			s.lastPurge = now
			s.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Run sweeps every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, every time.Duration) {
	runEvery(ctx, every, s.log, "sweep failed", s.SweepOnce)
}

// runEvery runs job at once and then every interval until ctx ends,
// logging failures (as failed) other than ctx's end. The background jobs
// (worker sweep, message lifetime, event digests and retention) share it.
func runEvery(ctx context.Context, every time.Duration, log Logger, failed string, job func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := job(ctx); err != nil && ctx.Err() == nil {
			log.Error(failed, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweeperStore is what the Sweeper persists through.
type sweeperStore interface {
	DeviceCodeStore
	EchoStore
	ExecutionStore
}
