package coretest

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/cueapi/cueapi/core"
)

// SeedCues bulk-inserts n cues of tenant (two thirds active, one third
// completed) the fastest way the dialect allows: seeding 100k through
// CueCreate would dominate the benchmark.
type SeedCues func(b *testing.B, s core.Store, tenant core.TenantID, n int)

// BenchCueCreateAtSize reports the CueCreate rate (creates/s) with 1k and
// 100k cues already stored: into a fresh account, and into the account
// that holds the stored cues. Creation must not slow as the table grows
// (the count toward the limit and the name check use indexes under any
// plan); into the big account the count reads that account's own active
// cues.
func BenchCueCreateAtSize(b *testing.B, newStore func(b *testing.B) core.Store, seed SeedCues) {
	b.Helper()
	for _, stored := range []int{1_000, 100_000} {
		for _, into := range []string{"fresh", "owner"} {
			b.Run(fmt.Sprintf("CueCreate/stored=%d/%s", stored, into), func(b *testing.B) {
				s := newStore(b)
				owner := CreateUser(b, s, nil)
				seed(b, s, owner.ID, stored)
				tenant := owner.ID
				if into == "fresh" {
					tenant = CreateUser(b, s, nil).ID
				}
				for b.Loop() {
					storeCue(b, s, NewCue(tenant, nil))
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			})
		}
	}
}

// BenchCueCreateParallel reports the CueCreate rate (creates/s) of 16
// concurrent callers (the API benchmark's create clients) into the account
// that holds 1k stored cues: what a store gains from committing concurrent
// creations together. The sequential BenchCueCreateAtSize cannot show it.
func BenchCueCreateParallel(b *testing.B, newStore func(b *testing.B) core.Store, seed SeedCues) {
	b.Helper()
	const callers, stored = 16, 1_000
	b.Run(fmt.Sprintf("CueCreate/callers=%d/stored=%d", callers, stored), func(b *testing.B) {
		s := newStore(b)
		owner := CreateUser(b, s, nil)
		seed(b, s, owner.ID, stored)
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, callers/runtime.GOMAXPROCS(0)))
		ctx := b.Context()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p := &core.CueCreateParams{Cue: NewCue(owner.ID, nil), ActiveCueLimit: math.MaxInt32}
				if _, err := s.CueCreate(ctx, p); err != nil {
					b.Error(err) // not Fatal: this is not the benchmark's goroutine
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
	})
}
