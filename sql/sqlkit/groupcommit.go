package sqlkit

import (
	"context"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

// Group commit. A write that commits alone waits for its own round trips
// and its own log flush; concurrent writes of one kind (creations,
// execution updates) are therefore queued and committed together by a
// flusher: one transaction, one flush, results per member as if each had
// committed alone (the adapters' cuecreate.go and execupdate.go).

// GroupTimeout bounds one group's transaction: it is shared, so no single
// request's context may cancel it.
const GroupTimeout = 30 * time.Second

// Member is what every queued write carries (embed it): its caller's
// context, its result and the signal that the result is ready.
type Member struct {
	Ctx  context.Context
	Err  error
	done chan struct{}
	// Alone: the group's transaction did not run this write (it met a row
	// an earlier member holds); it runs in a transaction of its own once
	// the group has committed.
	Alone bool
}

// NewMember is the Member of a write its caller queues under ctx.
func NewMember(ctx context.Context) Member {
	return Member{Ctx: ctx, done: make(chan struct{})}
}

// Base returns m (Grouped).
func (m *Member) Base() *Member { return m }

// Grouped is a queued write; Reset clears its result before a retry.
type Grouped interface {
	Base() *Member
	Reset()
}

// GroupQueue holds the writes of one kind waiting for a transaction.
type GroupQueue[T Grouped] struct {
	Errors Errors
	Op     string // for errors
	// Max caps the members of one transaction; Flushers the transactions
	// in flight at once.
	Max, Flushers int
	// Run runs items in one transaction: per-member results in the
	// members, the transaction's error returned; rolledBack says it came
	// from a statement inside it (nothing committed), not from BEGIN or
	// COMMIT.
	Run func(ctx context.Context, items []T) (rolledBack bool, err error)

	mu      sync.Mutex
	pending []T
	running int // flushers
}

// Enqueue queues it for the next group and waits for its result. A caller
// whose context ends first gets the context's error; its write is then
// either not attempted or committed, as with any cancelled request.
func (q *GroupQueue[T]) Enqueue(it T) error {
	q.mu.Lock()
	q.pending = append(q.pending, it)
	if q.running < q.Flushers {
		q.running++
		go q.flush()
	}
	q.mu.Unlock()
	m := it.Base()
	select {
	case <-m.done:
		return nil
	case <-m.Ctx.Done():
		return q.Errors.Op(q.Op, m.Ctx.Err())
	}
}

// flush commits queued writes, a group at a time, until the queue is
// empty.
func (q *GroupQueue[T]) flush() {
	for {
		q.mu.Lock()
		var group []T
		for len(q.pending) > 0 && len(group) < q.Max {
			it := q.pending[0]
			var zero T
			q.pending[0] = zero
			q.pending = q.pending[1:]
			if m := it.Base(); m.Ctx.Err() != nil {
				m.Err = q.Errors.Op(q.Op, m.Ctx.Err()) // its caller has gone: not attempted
				close(m.done)
				continue
			}
			group = append(group, it)
		}
		if len(group) == 0 {
			q.pending = nil // release the backing array
			q.running--
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.Commit(group)
	}
}

// Commit runs group in one transaction and finishes every member. A
// statement that fails inside it rolls the whole group back, which is then
// retried one member per transaction, so each gets its own result; so are
// the members the group's transaction set aside (alone), once it has
// committed. A failed commit leaves the outcome unknown: every member gets
// that error.
func (q *GroupQueue[T]) Commit(group []T) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(group[0].Base().Ctx), GroupTimeout)
	defer cancel()
	rolledBack, err := q.Run(ctx, group)
	for _, it := range group {
		m := it.Base()
		switch {
		case rolledBack && len(group) > 1, m.Alone:
			it.Reset()
			if _, err := q.Run(ctx, []T{it}); err != nil {
				m.Err = err
			}
		case err != nil:
			it.Reset()
			m.Err = err
		}
		close(m.done)
	}
}

// PendingCreate is one CueCreate call in a group; I is the dialect's insert
// parameters.
type PendingCreate[I any] struct {
	Member
	P      *core.CueCreateParams
	Tenant string // canonical
	Insert I
	Out    *core.Cue
}

// Reset implements Grouped.
func (it *PendingCreate[I]) Reset() { it.Out, it.Err, it.Alone = nil, nil, false }

// QueueCreate is the dialects' CueCreate around their group commit: the
// tenant id canonical (ErrNotFound when it is not a UUID), p.Cue laid out
// by insert, then queued on q — or, when it binds an idempotency key, run in
// a transaction of its own.
func QueueCreate[I any](ctx context.Context, e Errors, q *GroupQueue[*PendingCreate[I]], p *core.CueCreateParams, insert func(c *core.Cue, tenant string) (I, error)) (*core.Cue, error) {
	var out *core.Cue
	return Value(&out, Do(e, q.Op, string(p.Cue.TenantID), func(tenant string) error {
		args, err := insert(p.Cue, tenant)
		if err != nil {
			return e.Op(q.Op, err)
		}
		it := &PendingCreate[I]{Member: NewMember(ctx), P: p, Tenant: tenant, Insert: args}
		if p.Idempotency != nil {
			_, err = q.Run(ctx, []*PendingCreate[I]{it})
		} else {
			err = q.Enqueue(it)
		}
		if err != nil {
			return err
		}
		out = it.Out
		return it.Err
	}))
}
