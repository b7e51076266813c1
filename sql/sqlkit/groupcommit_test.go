package sqlkit

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// item is a queued write whose Run records what ran.
type item struct {
	Member
	n   int
	ran bool // set by a run that committed it
}

func (it *item) Reset() { it.Err, it.Alone, it.ran = nil, false, false }

// queue returns a GroupQueue whose Run calls run, and records each group's
// members.
func queue(max int, run func(items []*item) (bool, error)) (*GroupQueue[*item], *[][]int) {
	var groups [][]int
	q := &GroupQueue[*item]{Errors: Errors{Prefix: "test"}, Op: "write", Max: max, Flushers: 1,
		Run: func(_ context.Context, items []*item) (bool, error) {
			var g []int
			for _, it := range items {
				g = append(g, it.n)
			}
			groups = append(groups, g)
			return run(items)
		}}
	return q, &groups
}

func items(ctx context.Context, n int) []*item {
	out := make([]*item, n)
	for i := range out {
		out[i] = &item{Member: NewMember(ctx), n: i}
	}
	return out
}

// flush queues its in order and runs the flusher until the queue is
// empty, as concurrent Enqueue calls would.
func flush(q *GroupQueue[*item], its []*item) {
	q.mu.Lock()
	q.pending = append(q.pending, its...)
	q.running++
	q.mu.Unlock()
	q.flush()
}

func commitAll(items []*item) (bool, error) {
	for _, it := range items {
		it.ran = true
	}
	return false, nil
}

// The flusher takes the queue in order, at most Max to a group, and skips
// a member whose caller has gone: it is not run and gets its context's
// error.
func TestGroupQueueGroupsInOrderAndSkipsCancelled(t *testing.T) {
	q, groups := queue(3, commitAll)
	its := items(t.Context(), 7)
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	its[4].Ctx = gone
	flush(q, its)
	require.Equal(t, [][]int{{0, 1, 2}, {3, 5, 6}}, *groups)
	for i, it := range its {
		<-it.done
		if i == 4 {
			require.ErrorIs(t, it.Err, context.Canceled)
			require.False(t, it.ran)
			continue
		}
		require.NoError(t, it.Err)
		require.True(t, it.ran, i)
	}
	require.Zero(t, q.running, "the flusher stopped with the queue empty")
}

// A group whose statement failed (rolled back) is retried one member at a
// time, each with its own result; members the group set aside run alone
// after it; a failed commit gives every member its error.
func TestGroupQueueCommit(t *testing.T) {
	bad := errors.New("bad member")
	t.Run("RolledBackGroupRetriesEachAlone", func(t *testing.T) {
		q, groups := queue(10, func(items []*item) (bool, error) {
			for _, it := range items {
				if it.n == 1 {
					return true, bad
				}
			}
			return commitAll(items)
		})
		its := items(t.Context(), 3)
		q.Commit(its)
		require.Equal(t, [][]int{{0, 1, 2}, {0}, {1}, {2}}, *groups)
		require.NoError(t, its[0].Err)
		require.ErrorIs(t, its[1].Err, bad)
		require.NoError(t, its[2].Err)
		require.True(t, its[0].ran && its[2].ran)
	})
	t.Run("SetAsideMembersRunAloneAfter", func(t *testing.T) {
		q, groups := queue(10, func(items []*item) (bool, error) {
			if len(items) > 1 {
				items[1].Alone = true
				items[0].ran, items[2].ran = true, true
				return false, nil
			}
			return commitAll(items)
		})
		its := items(t.Context(), 3)
		q.Commit(its)
		require.Equal(t, [][]int{{0, 1, 2}, {1}}, *groups)
		for _, it := range its {
			require.NoError(t, it.Err)
			require.True(t, it.ran)
		}
	})
	t.Run("FailedCommitFailsEveryMember", func(t *testing.T) {
		lost := errors.New("commit failed")
		q, groups := queue(10, func(items []*item) (bool, error) { return false, lost })
		its := items(t.Context(), 2)
		q.Commit(its)
		require.Len(t, *groups, 1, "no retry: the outcome is unknown")
		require.True(t, slices.IndexFunc(its, func(it *item) bool { return !errors.Is(it.Err, lost) }) < 0)
	})
}

// Enqueue returns when its write has run, or with its context's error when
// the caller gives up first.
func TestGroupQueueEnqueue(t *testing.T) {
	q, _ := queue(10, commitAll)
	it := &item{Member: NewMember(t.Context())}
	require.NoError(t, q.Enqueue(it))
	require.True(t, it.ran)

	block := make(chan struct{})
	q2, _ := queue(10, func(items []*item) (bool, error) { <-block; return commitAll(items) })
	ctx, cancel := context.WithCancel(t.Context())
	first := &item{Member: NewMember(t.Context())}
	errc := make(chan error, 1)
	go func() { errc <- q2.Enqueue(first) }()
	waiting := &item{Member: NewMember(ctx)}
	go func() { cancel() }()
	err := q2.Enqueue(waiting)
	if err == nil { // the flusher saw the cancellation first: not run
		err = waiting.Err
	}
	require.ErrorIs(t, err, context.Canceled)
	close(block)
	require.NoError(t, <-errc)
}
