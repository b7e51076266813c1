package redislimiter

import (
	"context"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

// Local is a Limiter with a local allowance: after a decision made in Redis,
// a replica accepts up to Allowance(limit) further requests of the bucket
// from memory, and records them in Redis with the next request that goes
// there (in the same script call, so still one round trip). A request goes
// to Redis when the allowance is used up, or when the replica's own view
// (the count Redis last returned plus the requests accepted since) reaches
// the limit — so every rejection is decided by Redis and never recorded.
//
// Accuracy: the only requests Redis cannot see are those accepted from a
// replica's allowance and not yet flushed — at most Allowance(limit) per
// replica per bucket at any time. So in any window a bucket accepts, across
// all replicas, at most its limit plus Allowance(limit) per replica (each
// replica's own requests are always counted by it).
//
// Requests accepted locally within one millisecond are recorded as one
// member carrying their number, scored at the end of that millisecond: a
// busy bucket holds about one member per millisecond instead of one per
// request, and a flush of Allowance(limit) requests adds a few members. So
// such a request stays in the window up to 1 ms longer than its own
// timestamp would keep it — never shorter, so no bucket ever accepts more.
// With one replica the decisions equal Limiter's, except that a request
// may be refused within 1 ms of the moment Limiter would have accepted it
// again. Allowance is min(limit/16, MaxAllowance): limits below 16 per
// window never use it and are exact.
//
// Remaining in an allowed decision is limit − (count Redis returned +
// requests accepted locally since), as this replica sees it.
type Local struct {
	*Limiter
	max int

	mu      sync.Mutex
	buckets map[string]*localBucket
	sweepAt time.Time
}

// MaxAllowance is the default cap on a bucket's local allowance.
const MaxAllowance = 100

// localBucket is one bucket's view from this replica.
type localBucket struct {
	mu      sync.Mutex
	known   int              // count Redis returned at the last decision
	seen    time.Time        // when that decision was made
	pending []pendingRequest // accepted locally, not yet in Redis, by millisecond
	npend   int              // requests in pending
	dead    bool             // removed from the map: look up again
}

var _ core.RateLimiter = (*Local)(nil)

// NewLocal wraps l with a local allowance of at most maxAllowance requests
// per bucket (≤ 0: MaxAllowance).
func NewLocal(l *Limiter, maxAllowance int) *Local {
	if maxAllowance <= 0 {
		maxAllowance = MaxAllowance
	}
	return &Local{Limiter: l, max: maxAllowance, buckets: map[string]*localBucket{}}
}

// Allowance is how many requests of a bucket with this limit one replica
// may accept without asking Redis: min(limit/16, the cap).
func (l *Local) Allowance(limit int) int {
	return max(0, min(limit/16, l.max))
}

// Allow implements core.RateLimiter (see Local for the accuracy bound).
func (l *Local) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	allowance := l.Allowance(limit)
	if allowance == 0 || window <= 0 {
		return l.Limiter.Allow(ctx, key, limit, window, now)
	}
	b := l.bucket(key, now, window)
	b.mu.Lock()
	for b.dead { // forgotten between the lookup and the lock
		b.mu.Unlock()
		b = l.bucket(key, now, window)
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	from := now.Add(-window).UnixMicro()
	b.dropBefore(from)
	if b.npend < allowance && b.known+b.npend < limit && !b.seen.IsZero() && b.seen.After(now.Add(-window)) && !now.Before(b.seen) {
		us := now.UnixMicro()
		b.add(us)
		return core.RateDecision{
			Allowed: true, Limit: limit,
			Remaining: max(0, limit-b.known-b.npend),
			ResetAt:   time.UnixMicro(us).UTC().Add(window),
		}, nil
	}
	d, err := l.Limiter.allow(ctx, key, limit, window, now, b.pending)
	if err != nil {
		// Kept: a retried ZADD of the same members counts them once.
		return d, err
	}
	b.pending, b.npend = b.pending[:0], 0
	b.known = limit - d.Remaining
	if !d.Allowed {
		b.known = limit
	}
	b.seen = now
	return d, nil
}

// Count implements core.RateLimiter: Redis' count plus this replica's
// requests not yet flushed.
func (l *Local) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	n, err := l.Limiter.Count(ctx, key, window, now)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	b := l.buckets[key]
	l.mu.Unlock()
	if b != nil {
		b.mu.Lock()
		from := now.Add(-window).UnixMicro()
		for _, p := range b.pending {
			if p.score > from { // as Redis will count them
				n += p.count
			}
		}
		b.mu.Unlock()
	}
	return n, nil
}

// bucket returns key's local state; once per window it forgets buckets
// whose last decision and pending requests all left the window.
func (l *Local) bucket(key string, now time.Time, window time.Duration) *localBucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.sweepAt) {
		l.sweepAt = now.Add(window)
		from := now.Add(-window)
		for k, b := range l.buckets {
			if b.mu.TryLock() {
				if b.seen.Before(from) && (len(b.pending) == 0 || b.pending[len(b.pending)-1].score <= from.UnixMicro()) {
					delete(l.buckets, k)
					b.dead = true
				}
				b.mu.Unlock()
			}
		}
	}
	b := l.buckets[key]
	if b == nil {
		b = &localBucket{}
		l.buckets[key] = b
	}
	return b
}

// add records a request accepted locally at us: in the last group when it
// is of the same millisecond and not yet named by a flush, else in a new one.
func (b *localBucket) add(us int64) {
	score := (us + 999) / 1000 * 1000 // the end of its millisecond
	b.npend++
	if k := len(b.pending) - 1; k >= 0 && b.pending[k].score == score && b.pending[k].member == "" {
		b.pending[k].count++
		return
	}
	b.pending = append(b.pending, pendingRequest{score: score, count: 1})
}

// dropBefore forgets pending requests that left the window (≤ from µs).
func (b *localBucket) dropBefore(from int64) {
	i := 0
	for i < len(b.pending) && b.pending[i].score <= from {
		b.npend -= b.pending[i].count
		i++
	}
	if i > 0 {
		b.pending = append(b.pending[:0], b.pending[i:]...)
	}
}
