package postgres

import (
	"context"
	"sync"
	"time"
)

// Group commit. A write that commits alone waits for its own round trips
// and its own WAL flush; concurrent writes of one kind (creations,
// execution updates) are therefore queued and committed together by a
// flusher: one transaction, one flush, results per member as if each had
// committed alone (see cuecreate.go and execupdate.go).

// groupTimeout bounds one group's transaction: it is shared, so no single
// request's context may cancel it.
const groupTimeout = 30 * time.Second

// member is what every queued write carries: its caller's context, its
// result and the signal that the result is ready.
type member struct {
	ctx  context.Context
	err  error
	done chan struct{}
	// alone: the group's transaction did not run this write (it met a row
	// an earlier member holds); it runs in a transaction of its own once
	// the group has committed.
	alone bool
}

func newMember(ctx context.Context) member {
	return member{ctx: ctx, done: make(chan struct{})}
}

func (m *member) base() *member { return m }

// grouped is a queued write; reset clears its result before a retry.
type grouped interface {
	base() *member
	reset()
}

// groupQueue holds the writes of one kind waiting for a transaction.
type groupQueue[T grouped] struct {
	op string // for errors
	// max caps the members of one transaction; maxFlushers the
	// transactions in flight at once.
	max, maxFlushers int
	// run runs items in one transaction: per-member results in the
	// members, the transaction's error returned; rolledBack says it came
	// from a statement inside it (nothing committed), not from BEGIN or
	// COMMIT.
	run func(ctx context.Context, items []T) (rolledBack bool, err error)

	mu       sync.Mutex
	pending  []T
	flushers int
}

// enqueue queues it for the next group and waits for its result. A caller
// whose context ends first gets the context's error; its write is then
// either not attempted or committed, as with any cancelled request.
func (q *groupQueue[T]) enqueue(it T) error {
	q.mu.Lock()
	q.pending = append(q.pending, it)
	if q.flushers < q.maxFlushers {
		q.flushers++
		go q.flush()
	}
	q.mu.Unlock()
	m := it.base()
	select {
	case <-m.done:
		return nil
	case <-m.ctx.Done():
		return dbErr.Op(q.op, m.ctx.Err())
	}
}

// flush commits queued writes, a group at a time, until the queue is
// empty.
func (q *groupQueue[T]) flush() {
	for {
		q.mu.Lock()
		var group []T
		for len(q.pending) > 0 && len(group) < q.max {
			it := q.pending[0]
			var zero T
			q.pending[0] = zero
			q.pending = q.pending[1:]
			if m := it.base(); m.ctx.Err() != nil {
				m.err = dbErr.Op(q.op, m.ctx.Err()) // its caller has gone: not attempted
				close(m.done)
				continue
			}
			group = append(group, it)
		}
		if len(group) == 0 {
			q.pending = nil // release the backing array
			q.flushers--
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.commit(group)
	}
}

// commit runs group in one transaction and finishes every member. A
// statement that fails inside it rolls the whole group back, which is then
// retried one member per transaction, so each gets its own result; so are
// the members the group's transaction set aside (alone), once it has
// committed. A failed commit leaves the outcome unknown: every member gets
// that error.
func (q *groupQueue[T]) commit(group []T) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(group[0].base().ctx), groupTimeout)
	defer cancel()
	rolledBack, err := q.run(ctx, group)
	for _, it := range group {
		m := it.base()
		switch {
		case rolledBack && len(group) > 1, m.alone:
			it.reset()
			if _, err := q.run(ctx, []T{it}); err != nil {
				m.err = err
			}
		case err != nil:
			it.reset()
			m.err = err
		}
		close(m.done)
	}
}
