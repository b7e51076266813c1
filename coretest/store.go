// Package coretest holds the executable contracts of core's ports, fakes and
// factories for tests. Only tests may import it.
package coretest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// StoreOpts describes what a core.Store adapter keeps, so the contract can
// adapt without knowing the adapter.
type StoreOpts struct {
	// TimePrecision is the resolution the store keeps times at; stored times
	// must come back within it. Zero means time.Microsecond (what core.Store
	// promises).
	TimePrecision time.Duration
	// MonthlyUsage reads the tenant's execution count in usage_monthly for
	// the UTC month of month (0 without a row). The port has no usage reader
	// yet, so adapters pass a test hook; nil skips the usage checks.
	MonthlyUsage func(ctx context.Context, s core.Store, tenant core.TenantID, month time.Time) (int, error)
}

// RunStoreContract runs the core.Store contract: the executable form of the
// doc comments of the entity ports (core/user.go, cue.go, execution.go,
// worker.go, alert.go, usage.go, echo.go, devicecode.go, scheduler.go).
// Each port's cases live in the coretest file of the same name. Change both
// together. opts.MonthlyUsage enables the usage checks.
//
// newStore must return a fresh, empty, migrated store, isolated from every
// other call (a new file, a new schema), and register its own cleanup. Every
// subtest calls it once and runs in parallel with the others.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) core.Store, opts StoreOpts) {
	t.Helper()
	if opts.TimePrecision <= 0 {
		opts.TimePrecision = time.Microsecond
	}
	s := &storeSuite{newStore: newStore, opts: opts}

	t.Run("AgentCreate", s.testAgentCreate)
	t.Run("AgentGet", s.testAgentGet)
	t.Run("AgentList", s.testAgentList)
	t.Run("AgentTouch", s.testAgentTouch)
	t.Run("AgentUpdate", s.testAgentUpdate)
	t.Run("AlertClaimDeliveries", s.testAlertClaimDeliveries)
	t.Run("AlertAcknowledge", s.testAlertAcknowledge)
	t.Run("AlertCreate", s.testAlertCreate)
	t.Run("AlertList", s.testAlertList)
	t.Run("AlertRecordDeliveries", s.testAlertRecordDeliveries)
	t.Run("CueCountByStatus", s.testCueCountByStatus)
	t.Run("CueCreate", s.testCueCreate)
	t.Run("CueDelete", s.testCueDelete)
	t.Run("CueFireDue", s.testCueFireDue)
	t.Run("CueGet", s.testCueGet)
	t.Run("CueGetByName", s.testCueGetByName)
	t.Run("CueGetDetail", s.testCueGetDetail)
	t.Run("CueList", s.testCueList)
	t.Run("CueNextDueAt", s.testCueNextDueAt)
	t.Run("CueUpdate", s.testCueUpdate)
	t.Run("DeviceCodeCreate", s.testDeviceCodeCreate)
	t.Run("DeviceCodeGet", s.testDeviceCodeGet)
	t.Run("DeviceCodeGetBySessionToken", s.testDeviceCodeGetBySessionToken)
	t.Run("DeviceCodePurge", s.testDeviceCodePurge)
	t.Run("DeviceCodeUpdate", s.testDeviceCodeUpdate)
	t.Run("EchoGet", s.testEchoGet)
	t.Run("EchoPurge", s.testEchoPurge)
	t.Run("EchoPut", s.testEchoPut)
	t.Run("EventDigest", s.testEventDigest)
	t.Run("EventEmit", s.testEventEmit)
	t.Run("EventList", s.testEventList)
	t.Run("EventPurge", s.testEventPurge)
	t.Run("ExecutionCancelUpcoming", s.testExecutionCancelUpcoming)
	t.Run("ExecutionClaimDeliveries", s.testExecutionClaimDeliveries)
	t.Run("ExecutionClaimWorker", s.testExecutionClaimWorker)
	t.Run("ExecutionClaimable", s.testExecutionClaimable)
	t.Run("ExecutionCreate", s.testExecutionCreate)
	t.Run("ExecutionGet", s.testExecutionGet)
	t.Run("ExecutionList", s.testExecutionList)
	t.Run("ExecutionQueueStats", s.testExecutionQueueStats)
	t.Run("ExecutionRecentFinished", s.testExecutionRecentFinished)
	t.Run("ExecutionRecordDeliveries", s.testExecutionRecordDeliveries)
	t.Run("ExecutionSweepOutcomeDeadlines", s.testExecutionSweepOutcomeDeadlines)
	t.Run("ExecutionSweepWorkerLeases", s.testExecutionSweepWorkerLeases)
	t.Run("ExecutionUpdate", s.testExecutionUpdate)
	t.Run("Idempotency", s.testIdempotency)
	t.Run("MessageCreate", s.testMessageCreate)
	t.Run("MessageGet", s.testMessageGet)
	t.Run("MessageList", s.testMessageList)
	t.Run("MessagePush", s.testMessagePush)
	t.Run("MessagePushRoom", s.testMessagePushRoom)
	t.Run("MessageSweep", s.testMessageSweep)
	t.Run("MessageUpdate", s.testMessageUpdate)
	t.Run("OutcomeCounts", s.testOutcomeCounts)
	t.Run("Ping", s.testPing)
	t.Run("RotatedKeyGet", s.testRotatedKeyGet)
	t.Run("SchedulerHeartbeatLatest", s.testSchedulerHeartbeatLatest)
	t.Run("SchedulerHeartbeatPut", s.testSchedulerHeartbeatPut)
	t.Run("SubscriptionCreate", s.testSubscriptionCreate)
	t.Run("SubscriptionDetachAndAck", s.testSubscriptionDetachAndAck)
	t.Run("SubscriptionDispatch", s.testSubscriptionDispatch)
	t.Run("UsageCount", s.testUsageCount)
	t.Run("UsageGet", s.testUsageGet)
	t.Run("UsageStartGrace", s.testUsageStartGrace)
	t.Run("UserCreate", s.testUserCreate)
	t.Run("UserGet", s.testUserGet)
	t.Run("UserGetByAPIKeyHash", s.testUserGetByAPIKeyHash)
	t.Run("UserRotateAPIKey", s.testUserRotateAPIKey)
	t.Run("UserUpdate", s.testUserUpdate)
	t.Run("WorkerCountActive", s.testWorkerCountActive)
	t.Run("WorkerDelete", s.testWorkerDelete)
	t.Run("WorkerHeartbeat", s.testWorkerHeartbeat)
	t.Run("WorkerList", s.testWorkerList)
}

// storeSuite is what every store subtest shares.
type storeSuite struct {
	newStore func(t *testing.T) core.Store
	opts     StoreOpts
}

// storeBundle is one subtest's fresh world.
type storeBundle struct {
	ctx   context.Context
	store core.Store
}

// setup gives the calling subtest a fresh store.
func (s *storeSuite) setup(t *testing.T) *storeBundle {
	t.Helper()
	return &storeBundle{ctx: t.Context(), store: s.newStore(t)}
}

func (s *storeSuite) testPing(t *testing.T) {
	t.Parallel()

	t.Run("Succeeds", func(t *testing.T) {
		t.Parallel()
		b := s.setup(t)
		require.NoError(t, b.store.Ping(b.ctx))
	})
}

// oddTime is an instant with nanoseconds (below every store's precision) in
// a non-UTC zone: stores must return it in UTC within their precision.
func oddTime(offset time.Duration) time.Time {
	return time.Date(2026, 3, 20, 17, 0, 0, 123456789, time.FixedZone("CET", 3600)).Add(offset)
}

// requireTimeEqual checks got is in UTC and within prec of want.
func requireTimeEqual(t *testing.T, prec time.Duration, want, got time.Time, field string) {
	t.Helper()
	require.Equal(t, time.UTC, got.Location(), "%s must be in UTC", field)
	require.WithinDuration(t, want, got, prec, field)
}

// requireTimePtrEqual is requireTimeEqual for optional times.
func requireTimePtrEqual(t *testing.T, prec time.Duration, want, got *time.Time, field string) {
	t.Helper()
	if want == nil {
		require.Nil(t, got, field)
		return
	}
	require.NotNil(t, got, field)
	requireTimeEqual(t, prec, *want, *got, field)
}

// requireJSONEqual compares JSON semantically; empty want means "{}" when
// object is set (columns that default to an empty object), else absent.
func requireJSONEqual(t *testing.T, want, got []byte, object bool, field string) {
	t.Helper()
	if len(want) == 0 && object {
		want = []byte("{}")
	}
	if len(want) == 0 {
		require.Empty(t, got, field)
		return
	}
	require.JSONEq(t, string(want), string(got), field)
}

// requireUserEqual checks got holds want's fields, times within prec.
func requireUserEqual(t *testing.T, prec time.Duration, want, got *core.User) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTimeEqual(t, prec, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	w, g := *want, *got
	w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}
	g.CreatedAt, g.UpdatedAt = time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// requireCueEqual checks got holds want's fields: times in UTC within prec,
// JSON semantically, nil and empty header maps and backoff lists alike.
func requireCueEqual(t *testing.T, prec time.Duration, want, got *core.Cue) {
	t.Helper()
	require.NotNil(t, got)
	requireTimeEqual(t, prec, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTimeEqual(t, prec, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	requireTimePtrEqual(t, prec, want.Schedule.At, got.Schedule.At, "Schedule.At")
	requireTimePtrEqual(t, prec, want.NextRun, got.NextRun, "NextRun")
	requireTimePtrEqual(t, prec, want.LastRun, got.LastRun, "LastRun")
	requireJSONEqual(t, want.Payload, got.Payload, true, "Payload")
	requireJSONEqual(t, want.Alerts, got.Alerts, false, "Alerts")
	w, g := *want, *got
	for _, c := range []*core.Cue{&w, &g} {
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		c.Schedule.At, c.NextRun, c.LastRun = nil, nil, nil
		c.Payload, c.Alerts = nil, nil
		if len(c.Callback.Headers) == 0 {
			c.Callback.Headers = nil
		}
		if len(c.Retry.BackoffMinutes) == 0 {
			c.Retry.BackoffMinutes = nil
		}
	}
	require.Equal(t, w, g)
}

// accountingBundle is one subtest's fresh world.
type accountingBundle struct {
	ctx   context.Context
	store core.Store
}

func (s *storeSuite) setupAcct(t *testing.T) *accountingBundle {
	t.Helper()
	return &accountingBundle{ctx: t.Context(), store: s.newStore(t)}
}

// acctNow is the "now" of the accounting cases: a whole second, so that
// edges one microsecond away are exact in every store.
var acctNow = time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)

// engineNow is the "now" of the engine cases: after FactoryTime, so
// factory cues (next run FactoryTime+5m) are due.
var engineNow = FactoryTime.Add(time.Hour)
