// Package redislimiter is a sliding-window core.RateLimiter over Redis,
// shared by every replica (security.md §5.1, with fix L1 of §5.8: trimming,
// counting and recording happen in one Lua script, so a burst of concurrent
// requests cannot overshoot the limit).
//
// Each bucket is one sorted set at "<prefix>ratelimit2:<key>". Its members
// are accepted requests, scored by their Unix microseconds: "<µs>:<random
// 64-bit hex>" for one request, unique even for equal timestamps, and
// "<µs>:<hex>x<n>" for n requests a Local allowance accepted within one
// millisecond and recorded together (scored at the end of that millisecond).
// The member "#" holds the bucket's count as its negated score, kept equal
// to the sum of the members' weights by every write, so a decision costs
// O(log N) and no scan of the window, however busy the bucket; request
// members always have positive scores and "#" never does. The key expires
// 10 s after the window of its last accepted request (70 s for the 60 s
// window, as the reference does). The current time is always passed in by
// the caller: the scripts never read Redis' clock, so replicas and tests
// agree. Every key a call touches is one Redis key, so Redis Cluster works.
//
// (The "2" in the key name: before this layout each request was one member
// and the count was ZCARD. Replicas of both versions count in separate keys
// during a rolling upgrade, for at most one window.)
//
// The Limiter does not fall back when Redis fails: it returns the error, and
// package failoverlimiter decides what to do (security.md §5.6).
package redislimiter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cueapi/cueapi/core"
)

// expirySlack is how long a bucket key outlives its window in Redis.
const expirySlack = 10 * time.Second

var _ core.RateLimiter = (*Limiter)(nil)

// weightLua is the Lua function giving a member's number of requests.
const weightLua = `
local function weight(m)
  local c = string.match(m, 'x(%d+)$')
  if c then return tonumber(c) end
  return 1
end
`

// allowScript trims the bucket to (now−window, +∞), keeps its count and
// records the request only when under the limit, atomically.
//
// KEYS[1] bucket; ARGV: now (µs), window (µs), limit, member, ttl (ms),
// then pairs of (score, member) of requests a Local allowance already
// accepted, recorded first and unconditionally unless they already left the
// window (ZADD of a member already present adds nothing, so a retried flush
// never counts twice). Returns {1, count including this request} when
// allowed and {0, count, oldest score} when rejected (oldest is "" when the
// bucket is empty, i.e. limit ≤ 0). A rejection extends nothing: the key's
// expiry moves only when a request is recorded.
var allowScript = redis.NewScript(weightLua + `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local from = now - tonumber(ARGV[2])
local n = -(tonumber(redis.call('ZSCORE', key, '#')) or 0)
local n0 = n
local gone = redis.call('ZRANGEBYSCORE', key, '(0', from)
if #gone > 0 then
  for i = 1, #gone do n = n - weight(gone[i]) end
  redis.call('ZREMRANGEBYSCORE', key, '(0', from)
end
local added = false
for i = 6, #ARGV, 2 do
  if tonumber(ARGV[i]) > from and redis.call('ZADD', key, ARGV[i], ARGV[i+1]) == 1 then
    n = n + weight(ARGV[i+1])
    added = true
  end
end
if n < 0 then n = 0 end
if n < tonumber(ARGV[3]) then
  redis.call('ZADD', key, now, ARGV[4])
  n = n + 1
  redis.call('ZADD', key, -n, '#')
  redis.call('PEXPIRE', key, ARGV[5])
  return {1, n}
end
if n ~= n0 then redis.call('ZADD', key, -n, '#') end
if added then redis.call('PEXPIRE', key, ARGV[5]) end
local oldest = redis.call('ZRANGEBYSCORE', key, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
return {0, n, oldest[2] or ''}
`)

// countScript returns the number of requests in (ARGV[1] µs, +∞): the
// bucket's count less the members at or before ARGV[1] (few, when the
// window is the bucket's own: those that left it since its last write).
// Read-only.
var countScript = redis.NewScript(weightLua + `
local n = -(tonumber(redis.call('ZSCORE', KEYS[1], '#')) or 0)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '(0', ARGV[1])
for i = 1, #gone do n = n - weight(gone[i]) end
if n < 0 then n = 0 end
return n
`)

// Limiter is a Redis-backed sliding-window rate limiter. Safe for concurrent
// use. Times have microsecond precision (finer digits of now are dropped).
type Limiter struct {
	client redis.UniversalClient
	prefix string
}

// New returns a Limiter storing its buckets under prefix+"ratelimit2:" in
// client. It does not contact Redis.
func New(client redis.UniversalClient, prefix string) *Limiter {
	if client == nil {
		panic("redislimiter: nil client")
	}
	return &Limiter{client: client, prefix: prefix}
}

// Ping implements core.Pinger for /health: nil when Redis answers PING.
func (l *Limiter) Ping(ctx context.Context) error {
	if err := l.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redislimiter: ping: %w", err)
	}
	return nil
}

// Allow records one request in bucket key if fewer than limit requests were
// accepted in (now−window, now], and reports the decision (see
// core.RateLimiter). One round trip (EVALSHA). A limit of zero or less
// rejects every request. Errors: a non-positive window, or Redis failing
// (wrapped, with nothing recorded or with the request recorded — the caller
// cannot tell which, and should treat it as "no decision").
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (core.RateDecision, error) {
	return l.allow(ctx, key, limit, window, now, nil)
}

// pendingRequest is a group of requests accepted locally within one
// millisecond and not yet in Redis.
type pendingRequest struct {
	score  int64  // µs: the end of the millisecond they were accepted in
	count  int    // requests in the group
	member string // its ZSET member: "" until the first flush names it
}

func newMember(us int64) string {
	return strconv.FormatInt(us, 10) + ":" + strconv.FormatUint(rand.Uint64(), 16)
}

// allow is Allow that first records pending (accepted elsewhere already).
func (l *Limiter) allow(ctx context.Context, key string, limit int, window time.Duration, now time.Time, pending []pendingRequest) (core.RateDecision, error) {
	if window <= 0 {
		return core.RateDecision{}, errors.New("redislimiter: window must be positive")
	}
	nowUs := now.UnixMicro()
	ttl := (window + expirySlack).Milliseconds()
	args := make([]any, 0, 5+2*len(pending))
	args = append(args, nowUs, window.Microseconds(), limit, newMember(nowUs), ttl)
	for i := range pending {
		p := &pending[i]
		if p.member == "" { // named at its first flush, kept for a retry
			p.member = newMember(p.score)
			if p.count > 1 {
				p.member += "x" + strconv.Itoa(p.count)
			}
		}
		args = append(args, p.score, p.member)
	}

	res, err := allowScript.Run(ctx, l.client, []string{l.bucket(key)}, args...).Slice()
	if err != nil {
		return core.RateDecision{}, fmt.Errorf("redislimiter: allow: %w", err)
	}
	if len(res) < 2 {
		return core.RateDecision{}, fmt.Errorf("redislimiter: allow: unexpected reply %v", res)
	}
	allowed, ok1 := res[0].(int64)
	count, ok2 := res[1].(int64)
	if !ok1 || !ok2 {
		return core.RateDecision{}, fmt.Errorf("redislimiter: allow: unexpected reply %v", res)
	}
	now = time.UnixMicro(nowUs).UTC()
	if allowed == 1 {
		return core.RateDecision{
			Allowed:   true,
			Limit:     limit,
			Remaining: max(0, limit-int(count)),
			ResetAt:   now.Add(window),
		}, nil
	}

	resetAt := now.Add(window)
	if len(res) > 2 {
		if s, _ := res[2].(string); s != "" {
			oldest, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return core.RateDecision{}, fmt.Errorf("redislimiter: allow: oldest score %q: %w", s, err)
			}
			resetAt = time.UnixMicro(int64(oldest)).UTC().Add(window)
		}
	}
	return rejected(limit, resetAt, now, window), nil
}

// Count returns how many requests were accepted in (now−window, now]. One
// read-only round trip (a script reading the bucket's count and the members
// that left the window); it records nothing. Errors: a non-positive window,
// or Redis failing (wrapped).
func (l *Limiter) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if window <= 0 {
		return 0, errors.New("redislimiter: window must be positive")
	}
	n, err := countScript.Run(ctx, l.client, []string{l.bucket(key)}, now.UnixMicro()-window.Microseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("redislimiter: count: %w", err)
	}
	return n, nil
}

func (l *Limiter) bucket(key string) string {
	return l.prefix + "ratelimit2:" + key
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
		ResetAt:    resetAt,
		RetryAfter: retry,
	}
}
