package coretest

import (
	"testing"
	"time"

	"github.com/cueapi/cueapi/core"
)

// BenchEngine benchmarks the engine's store methods on stores newStore
// builds, at the batch sizes the scheduler and the dispatcher use: firing
// 500 due cues (one execution each), claiming 256 due deliveries, and
// recording 256 successful attempts with their cue and usage effects. One
// operation is one batch. The cues belong to 16 tenants.
func BenchEngine(b *testing.B, newStore func(b *testing.B) core.Store) {
	b.Helper()

	b.Run("CueFireDue/500", func(b *testing.B) {
		const n = 500
		s := newStore(b)
		seedBenchCues(b, s, n)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// Every cue is due again: its next_run moved one minute on.
			now := engineNow.Add(time.Duration(i) * time.Minute)
			benchFire(b, s, now, n)
			i++
		}
	})

	b.Run("ExecutionClaimDeliveries/256", func(b *testing.B) {
		const n = 256
		s := newStore(b)
		seedBenchCues(b, s, n)
		benchFire(b, s, engineNow, n)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			// The previous claims' one-microsecond leases have expired.
			now := engineNow.Add(time.Duration(i) * time.Second)
			benchClaim(b, s, now, time.Microsecond, n)
			i++
		}
	})

	b.Run("ExecutionRecordDeliveries/256", func(b *testing.B) {
		const n = 256
		s := newStore(b)
		seedBenchCues(b, s, n)
		results := make([]*core.DeliveryResult, n)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			b.StopTimer()
			now := engineNow.Add(time.Duration(i) * time.Minute)
			benchFire(b, s, now, n)
			for j, d := range benchClaim(b, s, now, time.Minute, n) {
				e := d.Execution
				results[j] = &core.DeliveryResult{
					ExecutionID: e.ID, CueID: e.CueID, TenantID: e.TenantID, Attempt: e.Attempts, Attempts: e.Attempts,
					Status: core.ExecSuccess, HTTPStatus: new(200), ResponseBody: new(`{"ok":true}`),
					CountRun: true, SetLastRun: true, CountUsage: true,
				}
			}
			b.StartTimer()
			applied, err := s.ExecutionRecordDeliveries(b.Context(), &core.ExecutionRecordDeliveriesParams{Now: now.Add(time.Second), Results: results})
			if err != nil {
				b.Fatalf("ExecutionRecordDeliveries: %v", err)
			}
			for j, ok := range applied {
				if !ok {
					b.Fatalf("result %d was not applied", j)
				}
			}
			i++
		}
	})
}

// seedBenchCues stores n webhook cues over 16 tenants, all due at
// engineNow.
func seedBenchCues(b *testing.B, s core.Store, n int) {
	b.Helper()
	var users []*core.User
	for range 16 {
		users = append(users, CreateUser(b, s, nil))
	}
	for i := range n {
		createCueWithNextRun(b, s, users[i%len(users)].ID, new(engineNow), nil)
	}
}

// benchFire fires every due cue at now (n of them), each once, and moves
// its next_run one minute on.
func benchFire(b *testing.B, s core.Store, now time.Time, n int) {
	b.Helper()
	res, err := s.CueFireDue(b.Context(), &core.CueFireDueParams{Now: now, Horizon: now, Limit: n, Plan: func(c *core.Cue) core.FirePlan {
		return core.FirePlan{Occurrences: []time.Time{*c.NextRun}, NextRun: new(c.NextRun.Add(time.Minute)), Status: core.CueActive}
	}})
	if err != nil {
		b.Fatalf("CueFireDue: %v", err)
	}
	if res.Cues != n || res.Inserted != n {
		b.Fatalf("CueFireDue fired %d cues and created %d executions, want %d", res.Cues, res.Inserted, n)
	}
}

// benchClaim claims the n due executions at now.
func benchClaim(b *testing.B, s core.Store, now time.Time, lease time.Duration, n int) []*core.Delivery {
	b.Helper()
	ds, err := s.ExecutionClaimDeliveries(b.Context(), &core.ExecutionClaimDeliveriesParams{Now: now, Lease: lease, Limit: n})
	if err != nil {
		b.Fatalf("ExecutionClaimDeliveries: %v", err)
	}
	if len(ds) != n {
		b.Fatalf("claimed %d executions, want %d", len(ds), n)
	}
	return ds
}
