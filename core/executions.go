package core

import (
	"context"
	"errors"
)

// Executions implements reading executions and creating manual ones (fire,
// replay). Safe for concurrent use.
type Executions struct {
	store  Store
	clock  Clock
	wake   func() // tells the dispatcher there is work; may be nil
	traces *TraceCarrier
}

// NewExecutions wires the executions service.
func NewExecutions(store Store, clock Clock) *Executions {
	if store == nil || clock == nil {
		panic("core.NewExecutions: nil dependency")
	}
	return &Executions{store: store, clock: clock}
}

// OnCreated registers a callback run after an execution was created.
func (s *Executions) OnCreated(fn func()) { s.wake = fn }

// SetTraces makes executions created by a request carry the request's
// trace context to their delivery.
func (s *Executions) SetTraces(c *TraceCarrier) { s.traces = c }

// ExecutionFilter filters a list of executions.
type ExecutionFilter struct {
	CueID        *string
	Status       *string
	OutcomeState *string
}

// List returns a page of the tenant's executions, newest first.
func (s *Executions) List(ctx context.Context, u *User, f ExecutionFilter, limit, offset int) ([]*Execution, int, error) {
	p := &ExecutionListParams{TenantID: u.ID, Status: f.Status, OutcomeState: f.OutcomeState, Limit: limit, Offset: offset}
	if f.CueID != nil {
		id := CueID(*f.CueID)
		p.CueID = &id
	}
	return s.store.ExecutionList(ctx, p)
}

// Get returns one of the tenant's executions; a malformed id is simply not
// found.
func (s *Executions) Get(ctx context.Context, u *User, id ExecutionID) (*Execution, error) {
	e, err := s.store.ExecutionGet(ctx, &ExecutionGetParams{TenantID: u.ID, ID: id})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	return e, err
}

// Fire creates a manual execution of the cue now, whatever its status, and
// without touching its schedule, counters or lifecycle (a manual run of a
// one-time cue does not complete it).
func (s *Executions) Fire(ctx context.Context, u *User, cueID CueID) (*Execution, error) {
	c, err := s.store.CueGet(ctx, &CueGetParams{TenantID: u.ID, ID: cueID})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrCueNotFound
	}
	if err != nil {
		return nil, err
	}
	trig := TriggerManualFire
	return s.create(ctx, c, &trig, nil)
}

var errInFlight = Conflict("execution_in_flight", "Cannot replay an execution that is still in progress")

// Replay creates a new execution of a finished one's cue, with the cue's
// current payload.
func (s *Executions) Replay(ctx context.Context, u *User, id ExecutionID) (*Execution, error) {
	orig, err := s.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !orig.Status.Terminal() {
		return nil, errInFlight
	}
	c, err := s.store.CueGet(ctx, &CueGetParams{TenantID: u.ID, ID: orig.CueID})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrExecutionNotFound
	}
	if err != nil {
		return nil, err
	}
	trig := TriggerReplay
	from := orig.ID
	return s.create(ctx, c, &trig, &from)
}

func (s *Executions) create(ctx context.Context, c *Cue, trig *string, from *ExecutionID) (*Execution, error) {
	now := s.clock.Now()
	e := &Execution{
		ID: NewExecutionID(), CueID: c.ID, TenantID: c.TenantID, ScheduledFor: now, Status: ExecPending,
		TriggeredBy: trig, ReplayedFrom: from, CreatedAt: now, UpdatedAt: now,
	}
	for i := 0; ; i++ {
		created, err := s.store.ExecutionCreate(ctx, &ExecutionCreateParams{Execution: e})
		if errors.Is(err, ErrConflict) && i < 3 {
			// Two manual runs in the same microsecond: (cue, scheduled_for)
			// is unique, so take the next microsecond.
			e.ScheduledFor = e.ScheduledFor.Add(1000)
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return nil, ErrCueNotFound
		}
		if err != nil {
			return nil, err
		}
		if tc, ok := TraceFrom(ctx); ok {
			s.traces.Put(created.ID, tc, now)
		}
		if s.wake != nil {
			s.wake()
		}
		return created, nil
	}
}
