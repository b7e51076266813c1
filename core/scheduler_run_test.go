package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// wakeStore records what the scheduler asks of the store.
type wakeStore struct {
	core.Store
	mu        sync.Mutex
	next      time.Time // earliest next_run; zero: none
	fires     chan struct{}
	nextReads chan struct{}
}

func (s *wakeStore) CueFireDue(context.Context, *core.CueFireDueParams) (*core.CueFireDueResult, error) {
	signal(s.fires)
	return &core.CueFireDueResult{}, nil
}

func (s *wakeStore) CueNextDueAt(context.Context) (time.Time, error) {
	s.mu.Lock()
	next := s.next
	s.mu.Unlock()
	signal(s.nextReads)
	if next.IsZero() {
		return time.Time{}, core.ErrNotFound
	}
	return next, nil
}

// signal records a call without ever blocking the scheduler (a full buffer
// drops it: the test reads only the first few).
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (s *wakeStore) SchedulerHeartbeatPut(context.Context, *core.SchedulerHeartbeat) error {
	return nil
}

func (s *wakeStore) setNext(t time.Time) {
	s.mu.Lock()
	s.next = t
	s.mu.Unlock()
}

// A wake-up reads only the earliest next_run: nothing due within the
// look-ahead means no firing transaction; something due means a tick at
// once.
func TestSchedulerWakeTicksOnlyWhenSomethingIsDue(t *testing.T) {
	t.Parallel()
	st := &wakeStore{fires: make(chan struct{}, 16), nextReads: make(chan struct{}, 16)}
	sched := core.NewScheduler(core.SchedulerConfig{LookAhead: time.Second, IdlePoll: time.Hour}, st, core.SystemClock{}, nopLog{}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); sched.Run(ctx) }()
	defer func() { cancel(); <-done }()
	recv := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s", what)
		}
	}

	recv(st.fires, "first tick")
	recv(st.nextReads, "next due read of the first tick")

	st.setNext(time.Now().Add(time.Hour))
	sched.Wake()
	recv(st.nextReads, "next due read on wake")
	require.Empty(t, st.fires, "nothing due: no firing transaction")

	st.setNext(time.Now())
	sched.Wake()
	recv(st.nextReads, "next due read on wake")
	recv(st.fires, "tick for the due cue")
}
