package coretest

import (
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
	"github.com/stretchr/testify/require"
)

func (s *storeSuite) testWorkerCountActive(t *testing.T) {
	t.Parallel()

	t.Run("ReturnsZeroWithoutWorkers", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		u := CreateUser(t, b.store, nil)
		since := FactoryTime.Add(-time.Hour)
		for _, tenant := range []core.TenantID{u.ID, ""} {
			n, err := b.store.WorkerCountActive(b.ctx, &core.WorkerCountActiveParams{TenantID: tenant, Since: since})
			require.NoError(t, err)
			require.Zero(t, n)
		}
	})
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

func (s *storeSuite) testWorkerHeartbeat(t *testing.T) {
	t.Parallel()

	t.Run("InsertsThenReplacesHandlersKeepingCreatedAt", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
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
		b := s.setupWorker(t)
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

func (s *storeSuite) testWorkerList(t *testing.T) {
	t.Parallel()

	t.Run("OrdersByLatestHeartbeatThenWorkerID", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
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
		b := s.setupWorker(t)
		u := CreateUser(t, b.store, nil)
		other := CreateUser(t, b.store, nil)
		b.heartbeat(other.ID, "worker", nil, engineNow)
		for _, tenant := range []core.TenantID{u.ID, "not-a-uuid"} {
			require.Empty(t, b.workers(tenant))
		}
	})
}

func (s *storeSuite) testWorkerDelete(t *testing.T) {
	t.Parallel()

	t.Run("DeletesOnlyTheTenantsWorker", func(t *testing.T) {
		t.Parallel()
		b := s.setupWorker(t)
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
		b := s.setupWorker(t)
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
