package postgres

import (
	"context"
	"sync"
)

// Group commit. A write that commits alone waits for its own round trips
// and its own WAL flush; concurrent writes of one kind (creations,
// execution updates) are therefore queued and committed together by a
// flusher: one transaction, one flush, results per member as if each had
// committed alone (see cuecreate.go and execupdate.go).

// member is what every queued write carries: its caller's context, its
// result and the signal that the result is ready.
type member struct {
	ctx  context.Context
	err  error
	done chan struct{}
}

func newMember(ctx context.Context) member {
	return member{ctx: ctx, done: make(chan struct{})}
}

func (m *member) base() *member { return m }

type grouped interface{ base() *member }

// groupQueue holds the writes of one kind waiting for a transaction.
type groupQueue[T grouped] struct {
	op string // for errors
	// max caps the members of one transaction; maxFlushers the
	// transactions in flight at once.
	max, maxFlushers int
	// commit runs one group and finishes every member (closes done).
	commit func(group []T)

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
