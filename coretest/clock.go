package coretest

import (
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

var _ core.Clock = (*StubClock)(nil)

// StubClock is a core.Clock that only moves when told to. Safe for
// concurrent use. Times are kept in UTC.
type StubClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewStubClock returns a clock stopped at t (converted to UTC).
func NewStubClock(t time.Time) *StubClock {
	return &StubClock{now: t.UTC()}
}

// Now returns the clock's current instant in UTC.
func (c *StubClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward when d is negative) and
// returns the new instant.
func (c *StubClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set moves the clock to t (converted to UTC).
func (c *StubClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t.UTC()
}
