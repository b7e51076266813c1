// Package memlimiter is a sliding-window core.RateLimiter kept in process
// memory. It serves embedded single-node deployments and is the fallback when
// the shared Redis limiter is unreachable (security.md §5.6).
//
// It does not share state between processes: behind N replicas each one
// allows up to the limit on its own. Memory is bounded: a bucket holds at most
// limit timestamps, buckets whose newest entry has left the window are pruned
// as new buckets are created, and past Config.MaxKeys the least recently used
// bucket is dropped (which forgets that key's history — the price of not
// letting a flood of made-up keys grow memory without bound).
package memlimiter

import (
	"context"
	"errors"
	"hash/maphash"
	"sort"
	"sync"
	"time"

	"github.com/cueapi/cueapi/core"
)

// DefaultMaxKeys is the bucket bound New uses.
const DefaultMaxKeys = 100_000

// shardCount spreads keys over independent mutexes; a power of two.
const shardCount = 64

// pruneBatch is how many idle buckets creating a new bucket may drop.
const pruneBatch = 4

// errWindow is returned for a non-positive window.
var errWindow = errors.New("memlimiter: window must be positive")

var _ core.RateLimiter = (*Limiter)(nil)

// Config tunes a Limiter. The zero value means defaults.
type Config struct {
	// MaxKeys bounds how many buckets are kept (DefaultMaxKeys when zero or
	// negative). It is enforced per shard, so the effective bound is
	// rounded up to a multiple of 64.
	MaxKeys int
}

// Limiter is an in-memory sliding-window rate limiter. Safe for concurrent
// use. Times are compared with nanosecond precision; the caller supplies
// "now" on every call and the Limiter never reads the wall clock.
type Limiter struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

// shard is one lock's worth of buckets with a least-recently-used list
// (head = most recently touched).
type shard struct {
	mu         sync.Mutex
	buckets    map[string]*bucket
	maxKeys    int
	head, tail *bucket
}

// bucket holds the accepted timestamps (UnixNano, ascending) of one key.
type bucket struct {
	key        string
	ts         []int64
	window     int64 // of the last Allow, to tell when the bucket is idle
	prev, next *bucket
}

// New returns a Limiter holding at most DefaultMaxKeys buckets.
func New() *Limiter {
	return NewWithConfig(Config{})
}

// NewWithConfig returns a Limiter tuned by cfg.
func NewWithConfig(cfg Config) *Limiter {
	maxKeys := cfg.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	perShard := max(1, (maxKeys+shardCount-1)/shardCount)
	l := &Limiter{seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
		l.shards[i].maxKeys = perShard
	}
	return l
}

// Allow records one request in bucket key if fewer than limit requests were
// accepted in (now−window, now], and reports the decision (see
// core.RateLimiter). A limit of zero or less rejects every request. It fails
// only for a non-positive window. ctx is not used.
func (l *Limiter) Allow(_ context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	if window <= 0 {
		return core.RateDecision{}, errWindow
	}
	nowNs := now.UnixNano()
	cutoff := nowNs - int64(window)

	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	b := s.buckets[key]
	if b != nil {
		b.trim(cutoff)
		s.touch(b)
	}
	n := 0
	if b != nil {
		n = len(b.ts)
	}
	if n >= limit {
		resetAt := now.Add(window)
		if n > 0 {
			resetAt = time.Unix(0, b.ts[0]).Add(window)
		}
		return rejected(limit, resetAt, now, window), nil
	}
	if b == nil {
		b = s.create(key, nowNs)
	}
	b.window = int64(window)
	b.insert(nowNs)
	return core.RateDecision{
		Allowed:   true,
		Limit:     limit,
		Remaining: max(0, limit-len(b.ts)),
		ResetAt:   now.Add(window).UTC(),
	}, nil
}

// Count returns how many requests were accepted in (now−window, now]. It
// records nothing and fails only for a non-positive window. ctx is not used.
func (l *Limiter) Count(_ context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if window <= 0 {
		return 0, errWindow
	}
	cutoff := now.UnixNano() - int64(window)

	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	b := s.buckets[key]
	if b == nil {
		return 0, nil
	}
	return len(b.ts) - b.firstAfter(cutoff), nil
}

// Len returns how many buckets the Limiter holds. Safe for concurrent use.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}

// Prune drops every bucket whose newest accepted request left its window
// before now. Allow already prunes a few idle buckets whenever it creates
// one, so calling Prune is optional: it only returns memory sooner after a
// burst of keys that are never seen again.
func (l *Limiter) Prune(now time.Time) {
	nowNs := now.UnixNano()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for _, b := range s.buckets {
			if b.idle(nowNs) {
				s.remove(b)
			}
		}
		s.mu.Unlock()
	}
}

// rejected builds the answer for a request over the limit: RetryAfter is the
// time until resetAt rounded up to whole seconds, within [1s, window].
func rejected(limit int, resetAt, now time.Time, window time.Duration) core.RateDecision {
	retry := resetAt.Sub(now)
	if r := retry % time.Second; r != 0 {
		retry += time.Second - r
	}
	retry = min(retry, window)
	retry = max(retry, time.Second)
	return core.RateDecision{
		Limit:      limit,
		ResetAt:    resetAt.UTC(),
		RetryAfter: retry,
	}
}

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)&(shardCount-1)]
}

// create adds an empty bucket for key at the head, first dropping up to
// pruneBatch idle buckets from the tail and then, at capacity, the least
// recently used one. Callers hold s.mu.
func (s *shard) create(key string, nowNs int64) *bucket {
	for range pruneBatch {
		if s.tail == nil || !s.tail.idle(nowNs) {
			break
		}
		s.remove(s.tail)
	}
	for len(s.buckets) >= s.maxKeys && s.tail != nil {
		s.remove(s.tail)
	}
	b := &bucket{key: key}
	s.buckets[key] = b
	s.pushFront(b)
	return b
}

func (s *shard) remove(b *bucket) {
	delete(s.buckets, b.key)
	s.unlink(b)
}

func (s *shard) touch(b *bucket) {
	if s.head == b {
		return
	}
	s.unlink(b)
	s.pushFront(b)
}

func (s *shard) pushFront(b *bucket) {
	b.prev, b.next = nil, s.head
	if s.head != nil {
		s.head.prev = b
	}
	s.head = b
	if s.tail == nil {
		s.tail = b
	}
}

func (s *shard) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		s.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		s.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

// idle reports whether every entry has left the bucket's window by nowNs.
func (b *bucket) idle(nowNs int64) bool {
	return len(b.ts) == 0 || b.ts[len(b.ts)-1] <= nowNs-b.window
}

// firstAfter returns the index of the first timestamp after cutoff.
func (b *bucket) firstAfter(cutoff int64) int {
	// Usually few entries leave per call, so look at the front first.
	if len(b.ts) == 0 || b.ts[0] > cutoff {
		return 0
	}
	return sort.Search(len(b.ts), func(i int) bool { return b.ts[i] > cutoff })
}

// trim drops the timestamps at or before cutoff. Dropping from the front by
// reslicing is O(1); insert reallocates once the capacity is used up, so the
// backing array stays within twice the bucket's size.
func (b *bucket) trim(cutoff int64) {
	if i := b.firstAfter(cutoff); i > 0 {
		b.ts = b.ts[i:]
	}
}

// insert adds t keeping ts sorted. Callers pass a non-decreasing now almost
// always, so t usually goes at the end.
func (b *bucket) insert(t int64) {
	if len(b.ts) == cap(b.ts) {
		grown := make([]int64, len(b.ts), max(4, 2*len(b.ts)))
		copy(grown, b.ts)
		b.ts = grown
	}
	i := len(b.ts)
	for i > 0 && b.ts[i-1] > t {
		i--
	}
	b.ts = append(b.ts, 0)
	copy(b.ts[i+1:], b.ts[i:])
	b.ts[i] = t
}
