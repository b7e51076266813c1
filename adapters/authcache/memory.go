package authcache

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

// MaxMemoryEntries bounds how many users, and separately how many
// tombstones, a Memory holds.
const MaxMemoryEntries = 100_000

// memorySweepEvery is how often (by the injected clock) a write sweeps out
// expired entries and tombstones.
const memorySweepEvery = time.Minute

var _ core.AuthCache = (*Memory)(nil)

// Memory is an in-process core.AuthCache for a single process: invalidations
// reach only this process. Safe for concurrent use. Time comes from the
// clock given to NewMemory. Its methods never fail.
//
// Size is bounded by MaxMemoryEntries. Past it, Put drops an arbitrary
// entry. Tombstones are never dropped unsafely: when one must go early,
// every Put is refused until the moment it would have expired.
type Memory struct {
	clock core.Clock

	mu         sync.RWMutex
	entries    map[string]memEntry
	tombstones map[string]time.Time // hash → expiry
	// refuseUntil refuses all Puts before it: the latest expiry of a
	// tombstone dropped for room.
	refuseUntil time.Time
	nextSweep   time.Time
}

type memEntry struct {
	user      *core.User
	expiresAt time.Time
}

// NewMemory returns an empty Memory reading time from clock.
func NewMemory(clock core.Clock) *Memory {
	if clock == nil {
		panic("authcache: nil clock")
	}
	return &Memory{
		clock:      clock,
		entries:    make(map[string]memEntry),
		tombstones: make(map[string]time.Time),
	}
}

// Get returns a copy of the user cached for keyHash, or ok=false when there
// is none, it expired, or keyHash was invalidated less than TombstoneTTL ago.
func (m *Memory) Get(_ context.Context, keyHash string) (*core.User, bool, error) {
	now := m.clock.Now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if exp, dead := m.tombstones[keyHash]; dead && now.Before(exp) {
		return nil, false, nil
	}
	e, ok := m.entries[keyHash]
	if !ok || !now.Before(e.expiresAt) {
		return nil, false, nil
	}
	return copyUser(e.user), true, nil
}

// Put caches a copy of u for ttl. It does nothing when ttl is not positive
// or keyHash was invalidated less than TombstoneTTL ago.
func (m *Memory) Put(_ context.Context, keyHash string, u *core.User, ttl time.Duration) error {
	if u == nil {
		return errors.New("authcache: nil user")
	}
	if ttl <= 0 {
		return nil
	}
	now := m.clock.Now()
	c := copyUser(u)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	if now.Before(m.refuseUntil) {
		return nil
	}
	if exp, dead := m.tombstones[keyHash]; dead && now.Before(exp) {
		return nil
	}
	if _, ok := m.entries[keyHash]; !ok && len(m.entries) >= MaxMemoryEntries {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[keyHash] = memEntry{user: c, expiresAt: now.Add(ttl)}
	return nil
}

// Invalidate deletes the entry for keyHash and refuses Puts for it for
// TombstoneTTL.
func (m *Memory) Invalidate(_ context.Context, keyHash string) error {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	delete(m.entries, keyHash)
	if _, ok := m.tombstones[keyHash]; !ok && len(m.tombstones) >= MaxMemoryEntries {
		for k, exp := range m.tombstones {
			delete(m.tombstones, k)
			if exp.After(m.refuseUntil) {
				m.refuseUntil = exp
			}
			break
		}
	}
	m.tombstones[keyHash] = now.Add(TombstoneTTL)
	return nil
}

// Len returns how many entries and tombstones m holds, expired ones
// included until the next sweep.
func (m *Memory) Len() (entries, tombstones int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries), len(m.tombstones)
}

// maybeSweep drops expired entries and tombstones at most once per
// memorySweepEvery. Callers hold m.mu for writing.
func (m *Memory) maybeSweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(memorySweepEvery)
	for k, e := range m.entries {
		if !now.Before(e.expiresAt) {
			delete(m.entries, k)
		}
	}
	for k, exp := range m.tombstones {
		if !now.Before(exp) {
			delete(m.tombstones, k)
		}
	}
}
