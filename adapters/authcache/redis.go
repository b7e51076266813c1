package authcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cueapi/cueapi/core"
)

var _ core.AuthCache = (*Redis)(nil)

// putScript writes the entry unless the hash has a tombstone, atomically.
// KEYS: entry, tombstone. ARGV: value, ttl (ms). Returns 1 when written.
var putScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// invalidateScript records the tombstone and deletes the entry, atomically.
// KEYS: entry, tombstone. ARGV: tombstone ttl (ms).
var invalidateScript = redis.NewScript(`
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`)

// Redis is a core.AuthCache in Redis, shared by every replica using the same
// client target and prefix. Safe for concurrent use.
//
// Keys: "<prefix>auth:<hash>" holds the user as JSON with a Redis TTL;
// "<prefix>authdead:<hash>" is the tombstone. Each method is one round trip
// (GET-side MGET, or a Lua script). The two keys of a hash are in different
// hash slots, so Redis Cluster is not supported (a single node, a replica
// set or Sentinel is).
//
// An entry expires at the earlier of its Redis TTL (Redis' clock) and the
// expiry stamped in it by the writer's clock, checked against the reader's
// clock; the two agree in production and the second lets tests drive
// expiry with a stub clock. Tombstones expire by Redis' clock only.
type Redis struct {
	client redis.UniversalClient
	prefix string
	clock  core.Clock
}

// NewRedis returns a Redis cache under prefix in client, reading time from
// clock. It does not contact Redis.
func NewRedis(client redis.UniversalClient, prefix string, clock core.Clock) *Redis {
	if client == nil || clock == nil {
		panic("authcache: nil client or clock")
	}
	return &Redis{client: client, prefix: prefix, clock: clock}
}

// Get returns the user cached for keyHash, or ok=false when there is none,
// it expired, it was written in another format, or keyHash was invalidated
// less than TombstoneTTL ago. Errors: Redis failing, or an undecodable entry
// (wrapped); callers fall back to the store (security.md §1.3 step 4).
func (r *Redis) Get(ctx context.Context, keyHash string) (*core.User, bool, error) {
	u, _, ok, err := r.get(ctx, keyHash)
	return u, ok, err
}

// get is Get that also returns the entry's expiry (Local keeps a copy no
// longer than that).
func (r *Redis) get(ctx context.Context, keyHash string) (*core.User, time.Time, bool, error) {
	vals, err := r.client.MGet(ctx, r.entryKey(keyHash), r.tombstoneKey(keyHash)).Result()
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("authcache: get: %w", err)
	}
	if len(vals) != 2 || vals[1] != nil || vals[0] == nil {
		return nil, time.Time{}, false, nil
	}
	s, isString := vals[0].(string)
	if !isString {
		return nil, time.Time{}, false, fmt.Errorf("authcache: get: unexpected value %T", vals[0])
	}
	u, expiresAt, ok, err := decodeEntry([]byte(s))
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("authcache: get: decode: %w", err)
	}
	if !ok || !r.clock.Now().Before(expiresAt) {
		return nil, time.Time{}, false, nil
	}
	return u, expiresAt, true, nil
}

// Put caches u for ttl (rounded down to milliseconds). It does nothing when
// ttl is under a millisecond or keyHash was invalidated less than
// TombstoneTTL ago. Errors: Redis failing (wrapped); callers ignore them
// (security.md §1.3 step 5).
func (r *Redis) Put(ctx context.Context, keyHash string, u *core.User, ttl time.Duration) error {
	if u == nil {
		return errors.New("authcache: nil user")
	}
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return nil
	}
	val, err := encodeEntry(u, r.clock.Now().Add(ttl))
	if err != nil {
		return fmt.Errorf("authcache: put: encode: %w", err)
	}
	err = putScript.Run(ctx, r.client, []string{r.entryKey(keyHash), r.tombstoneKey(keyHash)}, val, ms).Err()
	if err != nil {
		return fmt.Errorf("authcache: put: %w", err)
	}
	return nil
}

// Invalidate deletes the entry for keyHash on every replica and refuses
// Puts for it for TombstoneTTL. When it returns an error the invalidation
// may not have happened: the caller must retry, or stop trusting cached
// entries for this user until their TTL has passed (security.md §1.5, second
// residual window).
func (r *Redis) Invalidate(ctx context.Context, keyHash string) error {
	err := invalidateScript.Run(ctx, r.client, []string{r.entryKey(keyHash), r.tombstoneKey(keyHash)},
		TombstoneTTL.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("authcache: invalidate: %w", err)
	}
	return nil
}

func (r *Redis) entryKey(keyHash string) string     { return r.prefix + "auth:" + keyHash }
func (r *Redis) tombstoneKey(keyHash string) string { return r.prefix + "authdead:" + keyHash }
