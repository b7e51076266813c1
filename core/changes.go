package core

import (
	"context"
	"sync"
	"time"
)

// ChangeKind says what kind of entity changed.
type ChangeKind string

// Change kinds.
const (
	// ChangeExecution: an execution was created or changed state (fired,
	// claimed, delivered, retried, failed, outcome reported, verified).
	ChangeExecution ChangeKind = "execution"
	// ChangeCue: a cue was created, edited, paused, resumed or deleted.
	ChangeCue ChangeKind = "cue"
	// ChangeAlert: an alert was created.
	ChangeAlert ChangeKind = "alert"
	// ChangeEvent: an agent event was written; EntityID is the recipient
	// agent's id (wakes that agent's long-polls on every replica).
	ChangeEvent ChangeKind = "event"
)

// Change is a small notification that something committed changed. It
// carries identifiers only: a subscriber that wants the data reads it
// (tenant-scoped) from the store. Payloads stay far below PostgreSQL's
// 8,000-byte NOTIFY limit.
type Change struct {
	Kind     ChangeKind `json:"k"`
	TenantID TenantID   `json:"u"`
	// EntityID is the execution, cue or alert id.
	EntityID string `json:"e"`
	// CueID is the cue the execution or alert belongs to, when known.
	CueID CueID `json:"c,omitempty"`
	// DueAt, on an execution change that created executions (a fire), is
	// when the earliest of them becomes deliverable: dispatchers in every
	// process wake for it (FollowChanges).
	DueAt *time.Time `json:"t,omitempty"`
}

// ChangeFeed is the change-notification port: a publish/subscribe channel
// across every process sharing the database (the dashboard's live feed;
// reusable for cross-replica wake-ups and long-polls). Delivery is
// best-effort and at-most-once: a subscriber that does not keep up loses
// changes (its buffer is bounded), so a subscriber must treat a change as a
// hint to re-read, never as the data itself. Safe for concurrent use.
type ChangeFeed interface {
	// Publish announces committed changes (in one round trip for a batch)
	// to every subscriber of their tenant (and to all-tenant subscribers)
	// in every process. Subscribers in this process receive them even when
	// the cross-process transport is down.
	Publish(ctx context.Context, cs ...Change) error
	// Subscribe returns a channel of the changes of tenant (every tenant
	// when tenant is empty) published from now on. The channel is closed
	// when ctx ends or cancel is called; cancel is idempotent.
	Subscribe(ctx context.Context, tenant TenantID) (<-chan Change, func())
}

// ChangeBufferSize is how many undelivered changes a subscriber may hold
// before newer ones are dropped for it.
const ChangeBufferSize = 64

// LocalFeed is the in-process ChangeFeed: one process (SQLite), and the
// fan-out stage of cross-process feeds. The zero value is not usable; call
// NewLocalFeed.
type LocalFeed struct {
	mu   sync.Mutex
	subs map[*localSub]struct{}
}

type localSub struct {
	tenant TenantID
	ch     chan Change
	once   sync.Once
}

// NewLocalFeed returns an empty in-process feed.
func NewLocalFeed() *LocalFeed { return &LocalFeed{subs: map[*localSub]struct{}{}} }

var _ ChangeFeed = (*LocalFeed)(nil)

// Publish delivers the changes to the matching subscribers of this
// process without blocking (a full buffer drops a change for that
// subscriber).
func (f *LocalFeed) Publish(_ context.Context, cs ...Change) error {
	f.Deliver(cs...)
	return nil
}

// Deliver fans the changes out to this process's matching subscribers, in
// order.
func (f *LocalFeed) Deliver(cs ...Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		for s := range f.subs {
			if s.tenant != "" && s.tenant != c.TenantID {
				continue
			}
			select {
			case s.ch <- c:
			default:
			}
		}
	}
}

// Subscribe registers a subscriber until ctx ends or cancel is called.
func (f *LocalFeed) Subscribe(ctx context.Context, tenant TenantID) (<-chan Change, func()) {
	s := &localSub{tenant: tenant, ch: make(chan Change, ChangeBufferSize)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	stop := make(chan struct{})
	cancel := func() {
		s.once.Do(func() {
			f.mu.Lock()
			delete(f.subs, s)
			close(s.ch)
			f.mu.Unlock()
			close(stop)
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-stop:
		}
	}()
	return s.ch, cancel
}

// Subscribers reports how many subscriptions are open (for tests and
// health detail).
func (f *LocalFeed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// FollowChanges wakes this process's scheduler and dispatcher for changes
// committed by any process (the feed spans every replica on PostgreSQL):
// a created, edited or deleted cue wakes the scheduler, a fire wakes the
// dispatcher for its due instant. Replicas thereby react at once instead of
// at their next poll; the polls stay as the fallback (delivery is
// best-effort). It returns when ctx ends.
func (a *Application) FollowChanges(ctx context.Context, feed ChangeFeed) {
	FollowChanges(ctx, feed, a.Scheduler.Wake, a.Dispatcher.WakeAt)
}

// FollowChanges calls wakeScheduler for every cue change and
// wakeDispatcherAt for every fire (an execution change with DueAt) on
// feed, until ctx ends.
func FollowChanges(ctx context.Context, feed ChangeFeed, wakeScheduler func(), wakeDispatcherAt func(time.Time)) {
	ch, cancel := feed.Subscribe(ctx, "")
	defer cancel()
	for c := range ch {
		switch {
		case c.Kind == ChangeCue:
			wakeScheduler()
		case c.Kind == ChangeExecution && c.DueAt != nil:
			wakeDispatcherAt(*c.DueAt)
		}
	}
}
