package core

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHoldBackPriority4(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	evs := func(prios ...int) []*Event {
		out := make([]*Event, len(prios))
		for i, p := range prios {
			out[i] = &Event{ID: int64(i + 1), Payload: json.RawMessage(fmt.Sprintf(`{"priority": %d}`, p))}
		}
		return out
	}
	ids := func(es []*Event) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	recent, old := now.Add(-time.Second), now.Add(-3*time.Second)

	sent, p4 := holdBack(evs(3, 4, 1), nil, 2*time.Second, now)
	require.Equal(t, []int64{1, 2, 3}, ids(sent), "no p=4 batch delivered yet: everything goes")
	require.True(t, p4)

	sent, p4 = holdBack(evs(3, 4, 1), &recent, 2*time.Second, now)
	require.Equal(t, []int64{1}, ids(sent), "held p=4: the batch stops before it (the watermark never skips it)")
	require.False(t, p4)

	sent, _ = holdBack(evs(4, 5), &recent, 2*time.Second, now)
	require.Empty(t, sent, "everything held: nothing to send")

	sent, p4 = holdBack(evs(4, 5), &old, 2*time.Second, now)
	require.Equal(t, []int64{1, 2}, ids(sent), "debounce over")
	require.True(t, p4)

	sent, _ = holdBack(evs(4), &recent, -1, now)
	require.Equal(t, []int64{1}, ids(sent), "a negative debounce disables it")
}

func TestSubscriptionSettle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	src := newSubscriptionSource(nil, nil, nil, nil, 0, "ua")
	job := func(failures int) *DeliveryJob {
		last := int64(4)
		sj := &subscriptionJob{batch: &SubscriptionBatch{Sub: &Subscription{ID: "s", ConsecutiveFailures: failures, LastDispatchedEventID: &last}, LeaseUntil: now},
			sent: []*Event{{ID: 7}, {ID: 9}}, hasP4: true}
		return &DeliveryJob{Item: sj}
	}
	result := func(j *DeliveryJob) *SubscriptionDispatch { return j.Item.(*subscriptionJob).result }

	j := job(3)
	src.Settle(&DeliveryAttempt{Job: j, Outcome: AttemptDelivered, At: now})
	r := result(j)
	require.Equal(t, int64(9), *r.LastDispatchedEventID)
	require.Equal(t, int64(9), *r.AckedEventID)
	require.Zero(t, r.ConsecutiveFailures)
	require.Equal(t, now, *r.LastP4At)
	require.Nil(t, r.NextLease)

	j = job(3)
	src.Settle(&DeliveryAttempt{Job: j, Outcome: AttemptFailed, At: now, NotBefore: now.Add(time.Minute)})
	r = result(j)
	require.Equal(t, 4, r.ConsecutiveFailures)
	require.Equal(t, int64(4), *r.LastDispatchedEventID, "unchanged")
	require.Nil(t, r.AckedEventID)
	require.Nil(t, r.PausedUntil)
	require.Equal(t, now.Add(time.Minute), *r.NextLease, "the receiver's Retry-After wins over the short wait")

	j = job(9)
	src.Settle(&DeliveryAttempt{Job: j, Outcome: AttemptParked, At: now})
	r = result(j)
	require.Equal(t, 10, r.ConsecutiveFailures)
	require.Equal(t, now.Add(time.Hour), *r.PausedUntil)

	j = job(2)
	src.Settle(&DeliveryAttempt{Job: j, Outcome: AttemptReleased, At: now})
	r = result(j)
	require.Equal(t, 2, r.ConsecutiveFailures)
	require.Nil(t, r.NextLease)
}
