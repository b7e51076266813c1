package coretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// WorkerStoreUnderTest is a store with the pull-worker port.
type WorkerStoreUnderTest interface {
	core.Store
	core.WorkerStore
}

// RunWorkerStoreContract runs the core.WorkerStore contract: the executable
// form of the doc comments in core/ports_work.go. Change both together.
//
// newStore must return a fresh, empty, migrated store, isolated from every
// other call, and register its own cleanup. Every subtest calls it once and
// runs in parallel with the others. opts.MonthlyUsage enables the usage
// checks.
func RunWorkerStoreContract(t *testing.T, newStore func(t *testing.T) WorkerStoreUnderTest, opts StoreOpts) {
	t.Helper()
	if opts.TimePrecision <= 0 {
		opts.TimePrecision = time.Microsecond
	}
	s := &workerSuite{newStore: newStore, opts: opts}

	t.Run("ExecutionClaimWorker", s.testExecutionClaimWorker)
	t.Run("ExecutionClaimable", s.testExecutionClaimable)
	t.Run("ExecutionRecentFinished", s.testExecutionRecentFinished)
	t.Run("ExecutionSweepOutcomeDeadlines", s.testExecutionSweepOutcomeDeadlines)
	t.Run("ExecutionSweepWorkerLeases", s.testExecutionSweepWorkerLeases)
	t.Run("ExecutionUpdate", s.testExecutionUpdate)
	t.Run("WorkerDelete", s.testWorkerDelete)
	t.Run("WorkerHeartbeat", s.testWorkerHeartbeat)
	t.Run("WorkerList", s.testWorkerList)
}

// workerSuite is what every worker-store subtest shares.
type workerSuite struct {
	newStore func(t *testing.T) WorkerStoreUnderTest
	opts     StoreOpts
}

// workerBundle is one subtest's fresh world and its helpers.
type workerBundle struct {
	t     *testing.T
	ctx   context.Context
	store WorkerStoreUnderTest
	opts  StoreOpts
}

// workerLease is the claim lease the cases use unless they need another.
const workerLease = 15 * time.Minute

func (s *workerSuite) setup(t *testing.T) *workerBundle {
	t.Helper()
	return &workerBundle{t: t, ctx: t.Context(), store: s.newStore(t), opts: s.opts}
}

// workerCue stores a worker-transport cue of tenant (NewCue's defaults),
// edited by edit when given.
func (b *workerBundle) workerCue(tenant core.TenantID, edit func(c *core.Cue)) *core.Cue {
	b.t.Helper()
	c := NewCue(tenant, &CueOpts{Transport: core.TransportWorker})
	if edit != nil {
		edit(c)
	}
	return storeCue(b.t, b.store, c)
}

// pending stores a pending execution of c scheduled at at.
func (b *workerBundle) pending(c *core.Cue, at time.Time) *core.Execution {
	b.t.Helper()
	return createExecution(b.t, b.store, NewExecution(c, at))
}

// create stores e as is.
func (b *workerBundle) create(e *core.Execution) *core.Execution {
	b.t.Helper()
	return createExecution(b.t, b.store, e)
}

// claim claims e by id for worker at now with lease.
func (b *workerBundle) claim(e *core.Execution, worker string, now time.Time, lease time.Duration) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
		TenantID: e.TenantID, ID: &e.ID, WorkerID: worker, Now: now, Lease: lease,
	})
	require.NoError(b.t, err)
	require.Equal(b.t, e.ID, got.ID)
	return got
}

// claimNext claims the tenant's next execution (of task, when set) at now.
func (b *workerBundle) claimNext(tenant core.TenantID, task *string, now time.Time) (*core.Execution, error) {
	return b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
		TenantID: tenant, Task: task, WorkerID: "worker-next", Now: now, Lease: workerLease,
	})
}

// get reads e back.
func (b *workerBundle) get(e *core.Execution) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionGet(b.ctx, &core.ExecutionGetParams{TenantID: e.TenantID, ID: e.ID})
	require.NoError(b.t, err)
	return got
}

// claimable lists the tenant's claimable executions at now.
func (b *workerBundle) claimable(tenant core.TenantID, now time.Time, task *string, limit int) []*core.Claimable {
	b.t.Helper()
	got, err := b.store.ExecutionClaimable(b.ctx, &core.ExecutionClaimableParams{TenantID: tenant, Now: now, Task: task, Limit: limit})
	require.NoError(b.t, err)
	return got
}

// sweep runs the worker sweep at now with the protocol's messages.
func (b *workerBundle) sweep(now time.Time, unclaimed time.Duration, limit int) []*core.Delivery {
	b.t.Helper()
	ds, err := b.store.ExecutionSweepWorkerLeases(b.ctx, &core.ExecutionSweepWorkerLeasesParams{
		Now: now, UnclaimedTimeout: unclaimed, Limit: limit,
		ResetMessage: core.MsgLeaseReset, ExhaustedMessage: core.MsgLeaseExhausted, MissedMessage: core.MsgUnclaimed,
	})
	require.NoError(b.t, err)
	return ds
}

// sweepDeadlines runs the outcome-deadline sweep at now.
func (b *workerBundle) sweepDeadlines(now time.Time, limit int) []*core.Delivery {
	b.t.Helper()
	ds, err := b.store.ExecutionSweepOutcomeDeadlines(b.ctx, &core.ExecutionSweepOutcomeDeadlinesParams{Now: now, Limit: limit})
	require.NoError(b.t, err)
	return ds
}

// update runs ExecutionUpdate on e with fn, requiring success.
func (b *workerBundle) update(e *core.Execution, fn func(e *core.Execution, c *core.Cue) (*core.CueEffect, error)) *core.Execution {
	b.t.Helper()
	got, err := b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: e.TenantID, ID: e.ID, Fn: fn})
	require.NoError(b.t, err)
	return got
}

// heartbeat registers or refreshes a worker.
func (b *workerBundle) heartbeat(tenant core.TenantID, worker string, handlers []string, now time.Time) {
	b.t.Helper()
	require.NoError(b.t, b.store.WorkerHeartbeat(b.ctx, &core.WorkerHeartbeatParams{TenantID: tenant, WorkerID: worker, Handlers: handlers, Now: now}))
}

// workers lists the tenant's workers.
func (b *workerBundle) workers(tenant core.TenantID) []*core.Worker {
	b.t.Helper()
	ws, err := b.store.WorkerList(b.ctx, &core.WorkerListParams{TenantID: tenant})
	require.NoError(b.t, err)
	return ws
}

// usage reads the tenant's count for the UTC month of month through
// StoreOpts.MonthlyUsage (callers check it is set).
func (b *workerBundle) usage(tenant core.TenantID, month time.Time) int {
	b.t.Helper()
	require.NotNil(b.t, b.opts.MonthlyUsage)
	n, err := b.opts.MonthlyUsage(b.ctx, b.store, tenant, month)
	require.NoError(b.t, err)
	return n
}

// requireUsageHook skips the calling case when the adapter has no usage
// hook.
func (s *workerSuite) requireUsageHook(t *testing.T) {
	t.Helper()
	if s.opts.MonthlyUsage == nil {
		t.Skip("StoreOpts.MonthlyUsage is not set: the port has no usage reader")
	}
}

// expectCue checks the stored cue is before as edited by edit.
func (b *workerBundle) expectCue(before *core.Cue, edit func(c *core.Cue)) {
	b.t.Helper()
	want := *before
	if edit != nil {
		edit(&want)
	}
	requireCueEqual(b.t, b.opts.TimePrecision, &want, getCue(b.t, b.store, before))
}

// requireWorkerEqual checks got holds want's fields, times within prec.
func requireWorkerEqual(t *testing.T, prec time.Duration, want, got *core.Worker) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.LastHeartbeat, got.LastHeartbeat, "LastHeartbeat")
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	w, g := *want, *got
	w.LastHeartbeat, w.CreatedAt, g.LastHeartbeat, g.CreatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

func workerIDs(ws []*core.Worker) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.WorkerID
	}
	return ids
}

func claimableIDs(cs []*core.Claimable) []core.ExecutionID {
	ids := make([]core.ExecutionID, len(cs))
	for i, c := range cs {
		ids[i] = c.Execution.ID
	}
	return ids
}

func executionIDs(es []*core.Execution) []core.ExecutionID {
	ids := make([]core.ExecutionID, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// byScheduledThenID sorts a copy of execs by scheduled_for, then id.
func byScheduledThenID(execs ...*core.Execution) []core.ExecutionID {
	sorted := slices.Clone(execs)
	slices.SortFunc(sorted, func(a, b *core.Execution) int {
		if c := a.ScheduledFor.Compare(b.ScheduledFor); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return executionIDs(sorted)
}

// onceSchedule makes c a one-time cue.
func onceSchedule(c *core.Cue) {
	c.Schedule = core.Schedule{Type: core.ScheduleOnce, At: new(engineNow.Add(-time.Hour)), Timezone: "UTC"}
}

// ---- workers ----

func (s *workerSuite) testWorkerHeartbeat(t *testing.T) {
	t.Parallel()

	t.Run("InsertsThenReplacesHandlersKeepingCreatedAt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		first := oddTime(0)

		b.heartbeat(u.ID, "worker-1", []string{"daily_brief", "sync"}, first)
		ws := b.workers(u.ID)
		require.Len(t, ws, 1)
		want := &core.Worker{TenantID: u.ID, WorkerID: "worker-1", Handlers: []string{"daily_brief", "sync"}, LastHeartbeat: first, CreatedAt: first}
		requireWorkerEqual(t, s.opts.TimePrecision, want, ws[0])

		for i, handlers := range [][]string{nil, {}, {"other"}} {
			at := first.Add(time.Duration(i+1) * time.Minute)
			b.heartbeat(u.ID, "worker-1", handlers, at)
			ws = b.workers(u.ID)
			require.Len(t, ws, 1)
			want.Handlers, want.LastHeartbeat = handlers, at
			requireWorkerEqual(t, s.opts.TimePrecision, want, ws[0])
			if handlers == nil {
				require.Nil(t, ws[0].Handlers, "nil handlers store NULL")
			} else {
				require.NotNil(t, ws[0].Handlers, "an empty list is not NULL")
			}
		}
	})

	t.Run("KeepsTenantsApart", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.heartbeat(u.ID, "worker", []string{"a"}, engineNow)
		b.heartbeat(other.ID, "worker", []string{"b"}, engineNow.Add(time.Minute))

		for _, tc := range []struct {
			tenant   core.TenantID
			handlers []string
			at       time.Time
		}{{u.ID, []string{"a"}, engineNow}, {other.ID, []string{"b"}, engineNow.Add(time.Minute)}} {
			ws := b.workers(tc.tenant)
			require.Len(t, ws, 1)
			requireWorkerEqual(t, s.opts.TimePrecision, &core.Worker{TenantID: tc.tenant, WorkerID: "worker", Handlers: tc.handlers, LastHeartbeat: tc.at, CreatedAt: tc.at}, ws[0])
		}
	})
}

func (s *workerSuite) testWorkerList(t *testing.T) {
	t.Parallel()

	t.Run("OrdersByLatestHeartbeatThenWorkerID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		for _, w := range []struct {
			id      string
			minutes int
		}{{"w-a", 1}, {"w-d", 3}, {"w-c", 2}, {"w-b", 3}} {
			b.heartbeat(u.ID, w.id, nil, engineNow.Add(time.Duration(w.minutes)*time.Minute))
		}
		require.Equal(t, []string{"w-b", "w-d", "w-c", "w-a"}, workerIDs(b.workers(u.ID)))
	})

	t.Run("ReturnsEmptyForTenantWithoutWorkers", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.heartbeat(other.ID, "worker", nil, engineNow)
		for _, tenant := range []core.TenantID{u.ID, "not-a-uuid"} {
			require.Empty(t, b.workers(tenant))
		}
	})
}

func (s *workerSuite) testWorkerDelete(t *testing.T) {
	t.Parallel()

	t.Run("DeletesOnlyTheTenantsWorker", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.heartbeat(u.ID, "worker", nil, engineNow)
		b.heartbeat(u.ID, "kept", nil, engineNow)
		b.heartbeat(other.ID, "worker", nil, engineNow)

		require.NoError(t, b.store.WorkerDelete(b.ctx, &core.WorkerDeleteParams{TenantID: u.ID, WorkerID: "worker"}))
		require.Equal(t, []string{"kept"}, workerIDs(b.workers(u.ID)))
		require.Equal(t, []string{"worker"}, workerIDs(b.workers(other.ID)))
	})

	t.Run("ReturnsNotFoundWhenAbsentOrForeign", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.heartbeat(other.ID, "theirs", nil, engineNow)

		for _, p := range []*core.WorkerDeleteParams{
			{TenantID: u.ID, WorkerID: "absent"},
			{TenantID: u.ID, WorkerID: "theirs"},
			{TenantID: "not-a-uuid", WorkerID: "theirs"},
		} {
			require.ErrorIs(t, b.store.WorkerDelete(b.ctx, p), core.ErrNotFound)
		}
		require.Equal(t, []string{"theirs"}, workerIDs(b.workers(other.ID)))
	})
}

// ---- claiming ----

func (s *workerSuite) testExecutionClaimable(t *testing.T) {
	t.Parallel()

	t.Run("FiltersByTaskBeforeLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		other := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"other"}`) })
		wanted := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"wanted","n":1}`) })
		number := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":7}`) })
		for i := range 60 {
			b.pending(other, now.Add(-time.Hour+time.Duration(i)*time.Second))
		}
		first := b.pending(number, now.Add(-2*time.Hour))
		w := b.pending(wanted, now.Add(-time.Minute))

		got := b.claimable(u.ID, now, new("wanted"), 50)
		require.Equal(t, []core.ExecutionID{w.ID}, claimableIDs(got))
		requireCueEqual(t, s.opts.TimePrecision, wanted, got[0].Cue)

		all := b.claimable(u.ID, now, nil, 50)
		require.Len(t, all, 50)
		require.Equal(t, first.ID, all[0].Execution.ID)
		require.NotContains(t, claimableIDs(all), w.ID, "without a task the oldest 50 come first")

		require.Empty(t, b.claimable(u.ID, now, new("7"), 50), "only a string task matches")
		require.Empty(t, b.claimable(u.ID, now, new("absent"), 50))
	})

	t.Run("ListsOnlyDuePendingWorkerExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"t","n":1}`) })
		hook := CreateCue(t, b.store, u.ID, nil)
		foreign := b.workerCue(other.ID, nil)
		late := b.pending(wc, now.Add(-2*time.Minute))
		onTime := b.pending(wc, now)
		b.pending(wc, now.Add(time.Microsecond))
		for i, st := range []core.ExecutionStatus{core.ExecDelivering, core.ExecRetryReady, core.ExecSuccess, core.ExecFailed, core.ExecMissed} {
			e := NewExecution(wc, now.Add(-time.Hour+time.Duration(i)*time.Second))
			e.Status = st
			if st == core.ExecDelivering {
				e.Attempts, e.LeaseExpiresAt = 1, new(now.Add(time.Hour))
			}
			b.create(e)
		}
		b.pending(hook, now.Add(-time.Minute))
		b.pending(foreign, now.Add(-time.Minute))

		got := b.claimable(u.ID, now, nil, 50)
		require.Len(t, got, 2)
		for i, e := range []*core.Execution{late, onTime} {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, got[i].Execution)
			requireCueEqual(t, s.opts.TimePrecision, wc, got[i].Cue)
		}
	})

	t.Run("OrdersByScheduledForThenID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		var execs []*core.Execution
		for range 3 {
			c := b.workerCue(u.ID, nil)
			execs = append(execs, b.pending(c, now.Add(-time.Minute)))
		}
		execs = append(execs, b.pending(b.workerCue(u.ID, nil), now.Add(-2*time.Minute)))

		require.Equal(t, byScheduledThenID(execs...), claimableIDs(b.claimable(u.ID, now, nil, 50)))
	})

	t.Run("RespectsLimit", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		var ids []core.ExecutionID
		for i := 3; i >= 1; i-- {
			ids = append(ids, b.pending(c, engineNow.Add(-time.Duration(i)*time.Minute)).ID)
		}
		require.Equal(t, ids[:2], claimableIDs(b.claimable(u.ID, engineNow, nil, 2)))
	})

	t.Run("ReturnsEmptyForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.pending(b.workerCue(u.ID, nil), engineNow.Add(-time.Minute))
		for _, tenant := range []core.TenantID{other.ID, "not-a-uuid"} {
			require.Empty(t, b.claimable(tenant, engineNow, nil, 50))
		}
	})
}

func (s *workerSuite) testExecutionClaimWorker(t *testing.T) {
	t.Parallel()

	t.Run("ClaimsByIDSettingClaimFields", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(3600) })
		e := b.pending(c, engineNow.Add(-time.Minute))
		at := oddTime(0)

		upper := core.ExecutionID(strings.ToUpper(string(e.ID)))
		got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
			TenantID: u.ID, ID: &upper, WorkerID: "worker-1", Now: at, Lease: workerLease,
		})
		require.NoError(t, err)
		want := *e
		want.Status, want.Attempts, want.ClaimedByWorker, want.UpdatedAt = core.ExecDelivering, 1, new("worker-1"), at
		want.ClaimedAt, want.StartedAt, want.LastAttemptAt = &at, &at, &at
		want.LeaseExpiresAt, want.OutcomeDeadlineAt = new(at.Add(workerLease)), new(at.Add(time.Hour))
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))

		_, err = b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
			TenantID: u.ID, ID: &e.ID, WorkerID: "worker-2", Now: at, Lease: workerLease,
		})
		require.ErrorIs(t, err, core.ErrNotFound, "a claimed execution is not pending")
		require.Empty(t, b.claimable(u.ID, at, nil, 50))
	})

	t.Run("ClaimsNextOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c1 := b.workerCue(u.ID, nil)
		c2 := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(60) })
		e1 := b.pending(c1, now.Add(-3*time.Minute))
		e2 := b.pending(c2, now.Add(-2*time.Minute))
		e3 := b.pending(c1, now.Add(-time.Minute))
		b.pending(c1, now.Add(time.Second))

		for _, e := range []*core.Execution{e1, e2, e3} {
			got, err := b.claimNext(u.ID, nil, now)
			require.NoError(t, err)
			want := *e
			want.Status, want.Attempts, want.ClaimedByWorker, want.UpdatedAt = core.ExecDelivering, 1, new("worker-next"), now
			want.ClaimedAt, want.StartedAt, want.LastAttemptAt, want.LeaseExpiresAt = &now, &now, &now, new(now.Add(workerLease))
			if e.CueID == c2.ID {
				want.OutcomeDeadlineAt = new(now.Add(time.Minute))
			}
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		}
		_, err := b.claimNext(u.ID, nil, now)
		require.ErrorIs(t, err, core.ErrNotFound, "the future execution is not claimable yet")
	})

	t.Run("ClaimsNextWithTask", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		payload := func(p string) func(c *core.Cue) {
			return func(c *core.Cue) { c.Payload = json.RawMessage(p) }
		}
		ea := b.pending(b.workerCue(u.ID, payload(`{"task":"a"}`)), now.Add(-4*time.Minute))
		en := b.pending(b.workerCue(u.ID, payload(`{"task":7}`)), now.Add(-3*time.Minute))
		enone := b.pending(b.workerCue(u.ID, nil), now.Add(-2*time.Minute))
		eb := b.pending(b.workerCue(u.ID, payload(`{"task":"b"}`)), now.Add(-time.Minute))

		got, err := b.claimNext(u.ID, new("b"), now)
		require.NoError(t, err)
		require.Equal(t, eb.ID, got.ID)
		for _, task := range []string{"b", "7", "c"} {
			_, err = b.claimNext(u.ID, new(task), now)
			require.ErrorIs(t, err, core.ErrNotFound, "task %q", task)
		}
		for _, e := range []*core.Execution{ea, en, enone} {
			got, err := b.claimNext(u.ID, nil, now)
			require.NoError(t, err)
			require.Equal(t, e.ID, got.ID)
		}
	})

	t.Run("ConcurrentClaimNextNeverOverlaps", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		const cues, perCue, claimers = 4, 25, 8
		for range cues {
			c := b.workerCue(u.ID, nil)
			for k := range perCue {
				b.pending(c, now.Add(-time.Duration(k+1)*time.Second))
			}
		}

		var (
			mu      sync.Mutex
			claimed = map[core.ExecutionID]int{}
			wg      sync.WaitGroup
			errs    = make([]error, claimers)
		)
		for i := range claimers {
			wg.Go(func() {
				for {
					e, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
						TenantID: u.ID, WorkerID: fmt.Sprintf("worker-%d", i), Now: now, Lease: workerLease,
					})
					if errors.Is(err, core.ErrNotFound) {
						return
					}
					if err != nil {
						errs[i] = err
						return
					}
					mu.Lock()
					claimed[e.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, claimed, cues*perCue)
		for id, n := range claimed {
			require.Equal(t, 1, n, "execution %s claimed %d times", id, n)
		}
		require.Empty(t, b.claimable(u.ID, now, nil, 200))
	})

	t.Run("ConcurrentClaimsHaveOneWinner", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		e := b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute))

		const n = 40
		got := make([]*core.Execution, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p := &core.ExecutionClaimWorkerParams{TenantID: u.ID, WorkerID: fmt.Sprintf("worker-%d", i), Now: now, Lease: workerLease}
				if i%2 == 0 {
					p.ID = &e.ID
				}
				got[i], errs[i] = b.store.ExecutionClaimWorker(b.ctx, p)
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err != nil {
				require.ErrorIs(t, err, core.ErrNotFound)
				continue
			}
			require.Equal(t, -1, winner, "claims %d and %d both won", winner, i)
			winner = i
			require.Equal(t, e.ID, got[i].ID)
		}
		require.NotEqual(t, -1, winner, "one claim wins")
		stored := b.get(e)
		require.Equal(t, 1, stored.Attempts)
		require.Equal(t, new(fmt.Sprintf("worker-%d", winner)), stored.ClaimedByWorker)
	})

	t.Run("CountsUsageOnFirstClaimOnly", func(t *testing.T) {
		t.Parallel()
		s.requireUsageHook(t)
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 3 })
		jan := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
		feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		counted := b.pending(c, jan.Add(-time.Minute))
		uncounted := b.pending(c, jan.Add(-2*time.Minute))
		cet := b.pending(c, jan.Add(-3*time.Minute))
		claim := func(e *core.Execution, now time.Time, count bool) *core.Execution {
			t.Helper()
			got, err := b.store.ExecutionClaimWorker(b.ctx, &core.ExecutionClaimWorkerParams{
				TenantID: u.ID, ID: &e.ID, WorkerID: "worker", Now: now, Lease: time.Minute, CountUsage: count,
			})
			require.NoError(t, err)
			return got
		}

		claim(counted, jan, true)
		require.Equal(t, 1, b.usage(u.ID, jan))
		claim(uncounted, jan, false)
		require.Equal(t, 1, b.usage(u.ID, jan))
		// 00:30 CET on February 1st is still January in UTC.
		claim(cet, time.Date(2026, 2, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), true)
		require.Equal(t, 2, b.usage(u.ID, jan))

		// Expired leases go back to pending; claiming again is no first claim.
		require.Empty(t, b.sweep(feb, 24*time.Hour, 10))
		for _, e := range []*core.Execution{counted, uncounted, cet} {
			require.Equal(t, 2, claim(e, feb, true).Attempts)
		}
		require.Equal(t, 2, b.usage(u.ID, jan))
		require.Zero(t, b.usage(u.ID, feb))
	})

	t.Run("ReturnsNotFoundForUnclaimableExecutions", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, nil)
		future := b.pending(wc, now.Add(time.Second))
		webhook := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-time.Minute))
		foreign := b.pending(b.workerCue(other.ID, nil), now.Add(-time.Minute))
		done := NewExecution(wc, now.Add(-2*time.Minute))
		done.Status = core.ExecSuccess
		done = b.create(done)
		claimed := b.claim(b.pending(wc, now.Add(-3*time.Minute)), "first", now, workerLease)
		before := map[core.ExecutionID]*core.Execution{}
		for _, e := range []*core.Execution{future, webhook, foreign, done, claimed} {
			before[e.ID] = b.get(e)
		}

		for i, p := range []*core.ExecutionClaimWorkerParams{
			{TenantID: u.ID, ID: &future.ID},
			{TenantID: u.ID, ID: &webhook.ID},
			{TenantID: u.ID, ID: &foreign.ID},
			{TenantID: u.ID, ID: &done.ID},
			{TenantID: u.ID, ID: &claimed.ID},
			{TenantID: u.ID, ID: new(core.NewExecutionID())},
			{TenantID: u.ID, ID: new(core.ExecutionID("not-a-uuid"))},
			{TenantID: "not-a-uuid", ID: &foreign.ID},
			{TenantID: "not-a-uuid"},
			{TenantID: u.ID},
		} {
			p.WorkerID, p.Now, p.Lease, p.CountUsage = "second", now, workerLease, true
			_, err := b.store.ExecutionClaimWorker(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound, "case %d", i)
		}
		for _, e := range before {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		}
	})
}

// ---- read-modify-write ----

func (s *workerSuite) testExecutionUpdate(t *testing.T) {
	t.Parallel()

	t.Run("AbortsOnFnError", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := b.claim(b.pending(c, engineNow.Add(-time.Minute)), "worker", engineNow, workerLease)
		cueBefore := getCue(t, b.store, c)
		usageBefore := 0
		if s.opts.MonthlyUsage != nil {
			usageBefore = b.usage(u.ID, engineNow)
		}
		sentinel := errors.New("fn says no")

		_, err := b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: u.ID, ID: e.ID, Fn: func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.Status, x.ErrorMessage, x.LeaseExpiresAt = core.ExecFailed, new("changed"), nil
			x.Outcome = &core.Outcome{Success: true, RecordedAt: engineNow}
			return &core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueFailed), CountUsage: true, Now: engineNow}, sentinel
		}})
		require.True(t, err == sentinel, "Fn's error is returned as is, got %v", err)
		RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		b.expectCue(cueBefore, nil)
		if s.opts.MonthlyUsage != nil {
			require.Equal(t, usageBefore, b.usage(u.ID, engineNow))
		}
	})

	t.Run("AppliesCueStatusOnlyToActiveCue", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		paused := b.workerCue(u.ID, func(c *core.Cue) { c.Status = core.CuePaused })
		pausing := b.workerCue(u.ID, nil)
		untouched := b.workerCue(u.ID, nil)
		before := map[core.CueID]*core.Cue{}
		execs := map[core.CueID]*core.Execution{}
		for _, c := range []*core.Cue{paused, pausing, untouched} {
			before[c.ID] = getCue(t, b.store, c)
			execs[c.ID] = b.pending(c, now.Add(-time.Minute))
		}
		at := now.Add(time.Minute)
		effect := func(eff *core.CueEffect) func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
			return func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
				x.UpdatedAt = at
				return eff, nil
			}
		}

		b.update(execs[paused.ID], effect(&core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueFailed), Now: at}))
		b.update(execs[pausing.ID], effect(&core.CueEffect{Status: new(core.CuePaused), Now: at}))
		b.update(execs[untouched.ID], effect(nil))

		b.expectCue(before[paused.ID], func(c *core.Cue) { c.RunCount, c.LastRun, c.UpdatedAt = 1, &at, at })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.UpdatedAt = core.CuePaused, nil, at })
		b.expectCue(before[untouched.ID], nil)
	})

	t.Run("ConcurrentWriteOnceReports", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := b.claim(b.pending(c, engineNow.Add(-time.Minute)), "worker", engineNow, workerLease)
		at := engineNow.Add(time.Minute)
		conflict := errors.New("outcome already recorded")

		const n = 50
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = b.store.ExecutionUpdate(b.ctx, &core.ExecutionUpdateParams{TenantID: u.ID, ID: e.ID, Fn: func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
					if x.Outcome != nil {
						return nil, conflict
					}
					time.Sleep(5 * time.Millisecond) // widen the window a racy store would lose in
					x.Outcome = &core.Outcome{Success: true, Result: new(fmt.Sprintf("report %d", i)), RecordedAt: at}
					x.Status, x.LeaseExpiresAt, x.UpdatedAt = core.ExecSuccess, nil, at
					return &core.CueEffect{CountRun: true, Now: at}, nil
				}})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err != nil {
				require.True(t, err == conflict, "report %d: %v", i, err)
				continue
			}
			require.Equal(t, -1, winner, "reports %d and %d both won", winner, i)
			winner = i
		}
		require.NotEqual(t, -1, winner, "one report wins")
		got := b.get(e)
		require.NotNil(t, got.Outcome)
		require.Equal(t, new(fmt.Sprintf("report %d", winner)), got.Outcome.Result)
		require.Equal(t, 1, getCue(t, b.store, c).RunCount)
	})

	t.Run("DerivesDueAt", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		// Webhook executions are claimed by due_at.
		leased := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-time.Minute))
		retrying := b.pending(CreateCue(t, b.store, u.ID, nil), now.Add(-2*time.Minute))
		require.Len(t, claimDeliveries(t, b.store, now, time.Minute, 10), 2)
		require.Equal(t, []bool{true}, recordDeliveries(t, b.store, now.Add(time.Second), &core.DeliveryResult{
			ExecutionID: retrying.ID, CueID: retrying.CueID, TenantID: u.ID, Attempt: 1, Attempts: 1,
			Status: core.ExecRetrying, NextRetry: new(now.Add(10 * time.Minute)),
		}))
		// Worker executions become missed by due_at.
		waiting := b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute))

		b.update(leased, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LeaseExpiresAt = new(now.Add(5 * time.Minute)) // delivering: due when the lease expires
			return nil, nil
		})
		for _, e := range []*core.Execution{retrying, waiting} {
			b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
				x.Evidence.Summary, x.UpdatedAt = new("touched"), now.Add(2*time.Second) // due_at unchanged
				return nil, nil
			})
		}

		require.Empty(t, claimDeliveries(t, b.store, now.Add(5*time.Minute-time.Microsecond), time.Hour, 10))
		require.Equal(t, []core.ExecutionID{leased.ID}, deliveryIDs(claimDeliveries(t, b.store, now.Add(5*time.Minute), time.Hour, 10)))
		require.Empty(t, claimDeliveries(t, b.store, now.Add(10*time.Minute-time.Microsecond), time.Hour, 10))
		require.Equal(t, []core.ExecutionID{retrying.ID}, deliveryIDs(claimDeliveries(t, b.store, now.Add(10*time.Minute), time.Hour, 10)))
		require.Empty(t, b.sweep(now.Add(15*time.Minute-time.Minute-time.Microsecond), 15*time.Minute, 10))
		ds := b.sweep(now.Add(15*time.Minute-time.Minute), 15*time.Minute, 10)
		require.Len(t, ds, 1)
		require.Equal(t, waiting.ID, ds[0].Execution.ID)
	})

	t.Run("ReturnsNotFoundForUnknownForeignOrNonUUID", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		e := b.pending(b.workerCue(u.ID, nil), engineNow)
		called := false
		for _, p := range []*core.ExecutionUpdateParams{
			{TenantID: u.ID, ID: core.NewExecutionID()},
			{TenantID: other.ID, ID: e.ID},
			{TenantID: u.ID, ID: "not-a-uuid"},
			{TenantID: "not-a-uuid", ID: e.ID},
		} {
			p.Fn = func(*core.Execution, *core.Cue) (*core.CueEffect, error) {
				called = true
				return nil, nil
			}
			_, err := b.store.ExecutionUpdate(b.ctx, p)
			require.ErrorIs(t, err, core.ErrNotFound)
		}
		require.False(t, called)
	})

	t.Run("SavesListedFieldsAndCueEffect", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Payload = json.RawMessage(`{"task":"t"}`) })
		e := b.pending(c, engineNow.Add(-time.Minute))
		claimed := b.claim(e, "worker-1", engineNow, workerLease)
		cueBefore := getCue(t, b.store, c)
		usageBefore := 0
		at := oddTime(time.Hour)
		if s.opts.MonthlyUsage != nil {
			usageBefore = b.usage(u.ID, at)
		}
		full := fullExecution(c, e.ID)

		got := b.update(e, func(x *core.Execution, xc *core.Cue) (*core.CueEffect, error) {
			RequireExecutionEqual(t, s.opts.TimePrecision, claimed, x)
			requireCueEqual(t, s.opts.TimePrecision, cueBefore, xc)
			// Saved:
			x.Status = core.ExecSuccess
			x.ErrorMessage = new("slow but fine")
			x.DeliveredAt = &at
			x.LeaseExpiresAt = nil
			x.ClaimedByWorker = new("worker-2")
			x.ClaimedAt = new(at.Add(-time.Minute))
			x.LastHeartbeatAt = new(at.Add(-time.Second))
			x.Outcome = full.Outcome
			x.OutcomeState = full.OutcomeState
			x.OutcomeDeadlineAt = new(at.Add(time.Hour))
			x.Evidence = full.Evidence
			x.UpdatedAt = at
			// Not saved:
			x.ScheduledFor, x.CreatedAt = at, at
			x.Attempts, x.HTTPStatus, x.ResponseBody = 99, new(500), new("ignored")
			x.NextRetry, x.StartedAt, x.LastAttemptAt = &at, &at, &at
			x.TriggeredBy, x.ReplayedFrom = new(core.TriggerReplay), &e.ID
			xc.Name = "ignored"
			return &core.CueEffect{CountRun: true, SetLastRun: true, Status: new(core.CueCompleted), CountUsage: true, Now: at}, nil
		})
		want := *claimed
		want.Status, want.ErrorMessage, want.DeliveredAt, want.LeaseExpiresAt = core.ExecSuccess, new("slow but fine"), &at, nil
		want.ClaimedByWorker, want.ClaimedAt, want.LastHeartbeatAt = new("worker-2"), new(at.Add(-time.Minute)), new(at.Add(-time.Second))
		want.Outcome, want.OutcomeState, want.OutcomeDeadlineAt = full.Outcome, full.OutcomeState, new(at.Add(time.Hour))
		want.Evidence, want.UpdatedAt = full.Evidence, at
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
		b.expectCue(cueBefore, func(c *core.Cue) {
			c.RunCount, c.LastRun, c.Status, c.UpdatedAt = 1, &at, core.CueCompleted, at
		})
		if s.opts.MonthlyUsage != nil {
			require.Equal(t, usageBefore+1, b.usage(u.ID, at))
		}

		// Clearing the outcome and evidence stores NULLs.
		got = b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.Outcome, x.OutcomeState, x.OutcomeDeadlineAt, x.Evidence = nil, nil, nil, core.Evidence{}
			x.ErrorMessage, x.ClaimedByWorker, x.ClaimedAt, x.LastHeartbeatAt, x.DeliveredAt = nil, nil, nil, nil, nil
			return nil, nil
		})
		want.Outcome, want.OutcomeState, want.OutcomeDeadlineAt, want.Evidence = nil, nil, nil, core.Evidence{}
		want.ErrorMessage, want.ClaimedByWorker, want.ClaimedAt, want.LastHeartbeatAt, want.DeliveredAt = nil, nil, nil, nil, nil
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, got)
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
	})
}

// ---- sweeps ----

func (s *workerSuite) testExecutionSweepWorkerLeases(t *testing.T) {
	t.Parallel()

	t.Run("FailsExhaustedClaimsWithCueEffects", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		once := b.workerCue(u.ID, func(c *core.Cue) { onceSchedule(c); c.Retry.MaxAttempts = 1 })
		onceManual := b.workerCue(u.ID, func(c *core.Cue) { onceSchedule(c); c.Retry.MaxAttempts = 1 })
		pausing := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1; c.OnFailure.Pause = true })
		plain := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1; c.OutcomeDeadlineSeconds = new(3600) })
		manual := NewExecution(onceManual, now.Add(-3*time.Minute))
		manual.TriggeredBy = new(core.TriggerManualFire)
		var claimed []*core.Execution
		for _, e := range []*core.Execution{
			b.pending(once, now.Add(-4*time.Minute)), b.create(manual),
			b.pending(pausing, now.Add(-2*time.Minute)), b.pending(plain, now.Add(-time.Minute)),
		} {
			claimed = append(claimed, b.claim(e, "worker", now, time.Minute))
		}
		before := map[core.CueID]*core.Cue{}
		for _, c := range []*core.Cue{once, onceManual, pausing, plain} {
			before[c.ID] = getCue(t, b.store, c)
		}

		require.Empty(t, b.sweep(now.Add(time.Minute-time.Microsecond), time.Hour, 10), "no lease has expired")
		at := now.Add(time.Minute)
		ds := b.sweep(at, time.Hour, 10)
		require.Len(t, ds, 4)
		for i, e := range claimed {
			want := *e
			want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecFailed, new(core.MsgLeaseExhausted), at
			want.LeaseExpiresAt, want.OutcomeDeadlineAt = nil, nil
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		b.expectCue(before[once.ID], func(c *core.Cue) { c.Status, c.LastRun, c.UpdatedAt = core.CueFailed, &at, at })
		b.expectCue(before[onceManual.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &at, at })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.LastRun, c.UpdatedAt = core.CuePaused, nil, &at, at })
		b.expectCue(before[plain.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &at, at })
		require.Empty(t, b.sweep(at.Add(time.Hour), time.Hour, 10), "failed executions are done")
	})

	t.Run("KeepsLeaseRenewedByUpdate", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		e := b.claim(b.pending(b.workerCue(u.ID, nil), now.Add(-time.Minute)), "worker", now, time.Minute)
		renewed := b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LastHeartbeatAt, x.LeaseExpiresAt, x.UpdatedAt = new(now.Add(30*time.Second)), new(now.Add(2*time.Minute)), now.Add(30*time.Second)
			return nil, nil
		})

		require.Empty(t, b.sweep(now.Add(2*time.Minute-time.Microsecond), time.Hour, 10))
		RequireExecutionEqual(t, s.opts.TimePrecision, renewed, b.get(e))
		require.Empty(t, b.sweep(now.Add(2*time.Minute), time.Hour, 10))
		require.Equal(t, core.ExecPending, b.get(e).Status)
	})

	t.Run("LeavesWebhookExecutionsAlone", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		hook := CreateCue(t, b.store, u.ID, nil)
		waiting := b.pending(hook, now.Add(-time.Hour))
		leased := b.pending(hook, now.Add(-2*time.Hour))
		require.Len(t, claimDeliveries(t, b.store, now.Add(-10*time.Minute), time.Minute, 1), 1)
		before := []*core.Execution{b.get(waiting), b.get(leased)}

		require.Empty(t, b.sweep(now, 15*time.Minute, 10))
		for _, e := range before {
			RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		}
	})

	t.Run("MarksUnclaimedMissed", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		timeout := 15 * time.Minute
		once := b.workerCue(u.ID, onceSchedule)
		pausing := b.workerCue(u.ID, func(c *core.Cue) { c.OnFailure.Pause = true })
		plain := b.workerCue(u.ID, nil)
		e1 := b.pending(once, now.Add(-20*time.Minute))
		e2 := b.pending(pausing, now.Add(-16*time.Minute))
		e3 := b.pending(plain, now.Add(-timeout))
		fresh := b.pending(plain, now.Add(-timeout+time.Microsecond))
		before := map[core.CueID]*core.Cue{}
		for _, c := range []*core.Cue{once, pausing, plain} {
			before[c.ID] = getCue(t, b.store, c)
		}

		ds := b.sweep(now, timeout, 10)
		require.Len(t, ds, 3)
		for i, e := range []*core.Execution{e1, e2, e3} {
			want := *e
			want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecMissed, new(core.MsgUnclaimed), now
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, u.WebhookSecretSealed, ds[i].WebhookSecretSealed)
		}
		b.expectCue(before[once.ID], func(c *core.Cue) { c.Status, c.LastRun, c.UpdatedAt = core.CueFailed, &now, now })
		b.expectCue(before[pausing.ID], func(c *core.Cue) { c.Status, c.NextRun, c.LastRun, c.UpdatedAt = core.CuePaused, nil, &now, now })
		b.expectCue(before[plain.ID], func(c *core.Cue) { c.LastRun, c.UpdatedAt = &now, now })
		RequireExecutionEqual(t, s.opts.TimePrecision, fresh, b.get(fresh))
		require.Equal(t, []core.ExecutionID{fresh.ID}, claimableIDs(b.claimable(u.ID, now, nil, 50)))
	})

	t.Run("MeasuresUnclaimedTimeoutFromReset", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		timeout := 15 * time.Minute
		e := b.claim(b.pending(b.workerCue(u.ID, nil), now), "worker", now, time.Minute)
		reset := now.Add(time.Minute)
		require.Empty(t, b.sweep(reset, timeout, 10))
		require.Equal(t, core.ExecPending, b.get(e).Status)

		require.Empty(t, b.sweep(reset.Add(timeout-time.Microsecond), timeout, 10), "the timeout runs from the reset")
		require.Equal(t, core.ExecPending, b.get(e).Status)
		ds := b.sweep(reset.Add(timeout), timeout, 10)
		require.Len(t, ds, 1)
		require.Equal(t, e.ID, ds[0].Execution.ID)
		require.Equal(t, core.ExecMissed, ds[0].Execution.Status)
		require.Equal(t, 1, ds[0].Execution.Attempts)
	})

	t.Run("ResetsExpiredClaimWithAttemptsLeft", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 2; c.OutcomeDeadlineSeconds = new(600) })
		e := b.claim(b.pending(c, now.Add(-time.Minute)), "worker-1", now, time.Minute)
		e = b.update(e, func(x *core.Execution, _ *core.Cue) (*core.CueEffect, error) {
			x.LastHeartbeatAt = new(now.Add(10 * time.Second))
			return nil, nil
		})
		cueBefore := getCue(t, b.store, c)

		require.Empty(t, b.sweep(now.Add(time.Minute-time.Microsecond), time.Hour, 10))
		RequireExecutionEqual(t, s.opts.TimePrecision, e, b.get(e))
		at := now.Add(time.Minute)
		require.Empty(t, b.sweep(at, time.Hour, 10), "a reset execution is not returned")
		want := *e
		want.Status, want.ErrorMessage, want.UpdatedAt = core.ExecPending, new(core.MsgLeaseReset), at
		want.ClaimedByWorker, want.ClaimedAt, want.StartedAt, want.LastHeartbeatAt = nil, nil, nil, nil
		want.LeaseExpiresAt, want.OutcomeDeadlineAt = nil, nil
		RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
		b.expectCue(cueBefore, nil)

		require.Equal(t, []core.ExecutionID{e.ID}, claimableIDs(b.claimable(u.ID, at, nil, 50)))
		again, err := b.claimNext(u.ID, nil, at)
		require.NoError(t, err)
		require.Equal(t, e.ID, again.ID)
		require.Equal(t, 2, again.Attempts)
		require.Equal(t, new("worker-next"), again.ClaimedByWorker)
		requireTimePtrEqual(t, s.opts.TimePrecision, &at, again.StartedAt, "StartedAt")
		requireTimePtrEqual(t, s.opts.TimePrecision, new(at.Add(10*time.Minute)), again.OutcomeDeadlineAt, "OutcomeDeadlineAt")

		// The second claim was the last attempt.
		ds := b.sweep(at.Add(workerLease), time.Hour, 10)
		require.Len(t, ds, 1)
		require.Equal(t, core.ExecFailed, ds[0].Execution.Status)
	})

	t.Run("RespectsLimitPerStepOldestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		c := b.workerCue(u.ID, func(c *core.Cue) { c.Retry.MaxAttempts = 1 })
		var leased []*core.Execution
		for i, lease := range []time.Duration{3 * time.Minute, time.Minute, 2 * time.Minute} {
			leased = append(leased, b.claim(b.pending(c, now.Add(-time.Duration(i+1)*time.Second)), "worker", now, lease))
		}
		var waiting []*core.Execution
		for i := range 3 {
			waiting = append(waiting, b.pending(c, now.Add(-time.Hour-time.Duration(i)*time.Minute)))
		}
		at := now.Add(3 * time.Minute)

		first := b.sweep(at, 15*time.Minute, 2)
		require.Equal(t, append(byScheduledThenID(leased[1], leased[2]), byScheduledThenID(waiting[2], waiting[1])...), deliveryIDs(first))
		second := b.sweep(at, 15*time.Minute, 2)
		require.Equal(t, []core.ExecutionID{leased[0].ID, waiting[0].ID}, deliveryIDs(second))
		require.Empty(t, b.sweep(at, 15*time.Minute, 2))
	})
}

func (s *workerSuite) testExecutionSweepOutcomeDeadlines(t *testing.T) {
	t.Parallel()

	t.Run("RespectsLimitOldestDeadlineFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := CreateCue(t, b.store, u.ID, nil)
		now := engineNow
		var ids []core.ExecutionID
		for i := range 3 {
			e := NewExecution(c, now.Add(-time.Duration(10-i)*time.Minute))
			e.Status, e.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(-time.Duration(3-i)*time.Second))
			ids = append(ids, b.create(e).ID)
		}
		require.Equal(t, ids[:2], deliveryIDs(b.sweepDeadlines(now, 2)))
		require.Equal(t, ids[2:], deliveryIDs(b.sweepDeadlines(now, 2)))
		require.Empty(t, b.sweepDeadlines(now, 2))
	})

	t.Run("TimesOutExecutionsWithoutOutcomePastDeadline", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		now := engineNow
		wc := b.workerCue(u.ID, func(c *core.Cue) { c.OutcomeDeadlineSeconds = new(60) })
		hook := CreateCue(t, b.store, u.ID, nil)
		claimed := b.claim(b.pending(wc, now.Add(-time.Minute)), "worker", now, workerLease)
		delivered := NewExecution(hook, now.Add(-2*time.Minute))
		delivered.Status, delivered.Attempts, delivered.DeliveredAt = core.ExecSuccess, 1, new(now)
		delivered.OutcomeDeadlineAt = new(now.Add(30 * time.Second))
		delivered = b.create(delivered)
		reported := NewExecution(hook, now.Add(-3*time.Minute))
		reported.Status, reported.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(10*time.Second))
		reported.Outcome = &core.Outcome{Success: true, RecordedAt: now}
		reported = b.create(reported)
		later := NewExecution(hook, now.Add(-4*time.Minute))
		later.Status, later.OutcomeDeadlineAt = core.ExecSuccess, new(now.Add(2*time.Minute))
		later = b.create(later)

		require.Empty(t, b.sweepDeadlines(now.Add(30*time.Second-time.Microsecond), 10))
		at := now.Add(time.Minute)
		ds := b.sweepDeadlines(at, 10)
		require.Len(t, ds, 2)
		for i, e := range []*core.Execution{delivered, claimed} {
			want := *e
			want.Status, want.OutcomeDeadlineAt, want.LeaseExpiresAt, want.UpdatedAt = core.ExecOutcomeTimeout, nil, nil, at
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, ds[i].Execution)
			RequireExecutionEqual(t, s.opts.TimePrecision, &want, b.get(e))
			requireCueEqual(t, s.opts.TimePrecision, getCue(t, b.store, ds[i].Cue), ds[i].Cue)
			require.Equal(t, e.CueID, ds[i].Cue.ID)
		}
		RequireExecutionEqual(t, s.opts.TimePrecision, reported, b.get(reported))
		RequireExecutionEqual(t, s.opts.TimePrecision, later, b.get(later))
		require.Empty(t, b.sweepDeadlines(at, 10))
		require.Empty(t, b.sweep(at.Add(workerLease), time.Hour, 10), "a timed-out claim holds no lease")
	})
}

func (s *workerSuite) testExecutionRecentFinished(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsEmptyForAnotherTenant", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		e := NewExecution(c, FactoryTime)
		e.Status = core.ExecFailed
		b.create(e)
		for _, tenant := range []core.TenantID{other.ID, "not-a-uuid"} {
			got, err := b.store.ExecutionRecentFinished(b.ctx, &core.ExecutionRecentFinishedParams{TenantID: tenant, CueID: c.ID, Limit: 10})
			require.NoError(t, err)
			require.Empty(t, got)
		}
	})

	t.Run("ReturnsLatestFinishedNewestFirst", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		c := b.workerCue(u.ID, nil)
		otherCue := b.workerCue(u.ID, nil)
		var finished []*core.Execution
		add := func(c *core.Cue, minute int, created int, st core.ExecutionStatus) {
			e := NewExecution(c, FactoryTime.Add(time.Duration(minute)*time.Minute))
			e.CreatedAt, e.Status = FactoryTime.Add(time.Duration(created)*time.Minute), st
			e = b.create(e)
			if c == otherCue || !st.Terminal() {
				return
			}
			finished = append(finished, e)
		}
		add(c, 0, 0, core.ExecSuccess)
		add(c, 1, 1, core.ExecFailed)
		add(c, 2, 2, core.ExecMissed)
		add(c, 3, 3, core.ExecPending)
		add(c, 4, 4, core.ExecOutcomeTimeout)
		add(c, 5, 5, core.ExecDelivering)
		add(c, 6, 6, core.ExecRetrying)
		add(c, 7, 7, core.ExecPendingOutcome)
		add(c, 8, 8, core.ExecRetryReady)
		add(c, 9, 9, core.ExecFailed)
		add(c, 10, 9, core.ExecSuccess) // same created_at: ties by id
		add(otherCue, 11, 11, core.ExecFailed)
		want := executionIDs(executionsNewestFirst(finished))
		recent := func(limit int) []core.ExecutionID {
			got, err := b.store.ExecutionRecentFinished(b.ctx, &core.ExecutionRecentFinishedParams{TenantID: u.ID, CueID: c.ID, Limit: limit})
			require.NoError(t, err)
			return executionIDs(got)
		}

		require.Len(t, want, 6)
		require.Equal(t, want[:4], recent(4))
		require.Equal(t, want, recent(100))
	})
}

// BenchWorkerStore benchmarks the pull-worker claim on stores newStore
// builds: one operation is one claim-next (with usage counting) of a
// tenant's oldest pending worker execution, out of up to 1,000 pending ones
// (re-fired, untimed, whenever they run out).
func BenchWorkerStore(b *testing.B, newStore func(b *testing.B) WorkerStoreUnderTest) {
	b.Helper()

	b.Run("ExecutionClaimWorker/Next", func(b *testing.B) {
		const batch = 1000
		s := newStore(b)
		u := CreateUser(b, s, nil)
		c := NewCue(u.ID, &CueOpts{Transport: core.TransportWorker})
		c.NextRun = new(engineNow)
		storeCue(b, s, c)
		fired, left := 0, 0
		refill := func() {
			b.StopTimer()
			defer b.StartTimer()
			res, err := s.CueFireDue(b.Context(), &core.CueFireDueParams{Now: engineNow, Horizon: engineNow, Limit: 1, Plan: func(*core.Cue) core.FirePlan {
				occ := make([]time.Time, batch)
				for i := range occ {
					occ[i] = engineNow.Add(-time.Duration(fired+i+1) * time.Millisecond)
				}
				return core.FirePlan{Occurrences: occ, NextRun: new(engineNow), Status: core.CueActive}
			}})
			if err != nil || res.Inserted != batch {
				b.Fatalf("CueFireDue: inserted %v, %v", res, err)
			}
			fired += batch
			left = batch
		}
		b.ReportAllocs()
		for b.Loop() {
			if left == 0 {
				refill()
			}
			if _, err := s.ExecutionClaimWorker(b.Context(), &core.ExecutionClaimWorkerParams{
				TenantID: u.ID, WorkerID: "bench", Now: engineNow, Lease: workerLease, CountUsage: true,
			}); err != nil {
				b.Fatalf("ExecutionClaimWorker: %v", err)
			}
			left--
		}
	})
}
