package core

import (
	"sync"
	"time"
)

// maxDueTimers bounds the distinct instants a DueWaker waits for; beyond
// it an instant is left to the dispatcher's idle poll.
const maxDueTimers = 10_000

// DueWaker wakes the dispatcher at each announced due instant (to the
// millisecond), not only at the earliest of a batch: executions the
// scheduler materialized ahead of time (look-ahead) or that another
// replica fired are claimed when they become due instead of at the
// dispatcher's next idle poll (IdlePoll, 250 ms), which bounded steady-load
// lateness. Safe for concurrent use.
type DueWaker struct {
	clock Clock
	wake  func()

	mu      sync.Mutex
	pending map[int64]*time.Timer // by unix milliseconds
	stopped bool
}

// NewDueWaker returns a DueWaker calling wake.
func NewDueWaker(clock Clock, wake func()) *DueWaker {
	return &DueWaker{clock: clock, wake: wake, pending: map[int64]*time.Timer{}}
}

// At arranges a wake at each of ts (at once for instants already due).
func (w *DueWaker) At(ts ...time.Time) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	for _, t := range ts {
		ms := t.UnixMilli()
		if _, ok := w.pending[ms]; ok || len(w.pending) >= maxDueTimers {
			continue
		}
		d := time.UnixMilli(ms).Sub(now)
		if d < 0 {
			d = 0
		}
		w.pending[ms] = time.AfterFunc(d, func() {
			w.mu.Lock()
			delete(w.pending, ms)
			w.mu.Unlock()
			w.wake()
		})
	}
}

// Pending reports how many instants are waited for (tests).
func (w *DueWaker) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Stop cancels the pending wakes; later At calls do nothing.
func (w *DueWaker) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for ms, t := range w.pending {
		t.Stop()
		delete(w.pending, ms)
	}
}
