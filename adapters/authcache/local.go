package authcache

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cueapi/cueapi/core"
)

var _ core.AuthCache = (*Local)(nil)

// LocalConfig tunes a Local cache.
type LocalConfig struct {
	// TTL bounds how long an entry is served from memory (default 30 s);
	// the shared entry's own expiry still applies when it is re-read.
	TTL time.Duration
	// Ping is how often the subscription is probed (default 2 s); it counts
	// as unhealthy when nothing (message or pong) arrived for two periods.
	Ping time.Duration
	// AckWait bounds how long Invalidate waits for every subscribed replica
	// to confirm it dropped the entry (default 2 s).
	AckWait time.Duration
	// MaxEntries bounds the in-memory entries (default 100,000); beyond it
	// the map is emptied (entries are refilled from the shared cache).
	MaxEntries int
}

func (c *LocalConfig) defaults() {
	if c.TTL <= 0 {
		c.TTL = 30 * time.Second
	}
	if c.Ping <= 0 {
		c.Ping = 2 * time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = 2 * time.Second
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100_000
	}
}

// Local is an in-process auth cache in front of a shared one (Redis): a
// request authenticates from memory, without a round trip, while this
// replica's Redis pub/sub subscription is known to be healthy. Otherwise
// every Get goes to the shared cache (and through it, on a miss, the store),
// exactly as without Local.
//
// Invalidation across replicas: Invalidate first invalidates the shared
// cache (tombstone), then publishes the key hash on "<prefix>authinval" and
// waits until every subscribed replica has acknowledged that it dropped
// its copy (or AckWait passed). So when Invalidate returns — before the
// rotation's response leaves — no healthy replica serves the old key from
// memory any more: a rotated or revoked key is refused by every replica on
// its next request. A replica whose subscription breaks stops using (and
// empties) its memory at once, and only trusts it again after it has
// re-subscribed; a replica that misses the acknowledgement deadline is
// logged.
//
// Memory is filled only from the shared cache (never by Put), under a
// generation counter that every invalidation bumps: a value read from the
// shared cache before an invalidation is never stored after it.
type Local struct {
	shared  *Redis
	client  redis.UniversalClient
	inval   string // channel of invalidations: "<nonce> <hash>"
	ack     string // channel of acknowledgements: "<nonce>"
	clock   core.Clock
	log     core.Logger
	cfg     LocalConfig
	healthy atomic.Bool
	gen     atomic.Uint64
	// seen is when the subscription was last heard from (message or pong),
	// as wall-clock unix nanos: liveness of a connection is real time, not
	// the injected domain clock.
	seen atomic.Int64

	mu      sync.Mutex
	entries map[string]localEntry
	waiters map[string]chan struct{}

	stop context.CancelFunc
	done chan struct{}
}

type localEntry struct {
	user    *core.User
	expires time.Time
}

// NewLocal starts a Local cache over the shared Redis cache, subscribing
// with its client under its prefix (so every replica of a deployment hears
// the others). Close stops it. Put it under a Failover, which handles
// Redis outages for both.
func NewLocal(shared *Redis, clock core.Clock, log core.Logger, cfg LocalConfig) *Local {
	if shared == nil || clock == nil || log == nil {
		panic("authcache: nil shared cache, clock or log")
	}
	client, prefix := shared.client, shared.prefix
	cfg.defaults()
	ctx, stop := context.WithCancel(context.Background())
	l := &Local{
		shared: shared, client: client, inval: prefix + "authinval", ack: prefix + "authack",
		clock: clock, log: log, cfg: cfg, entries: map[string]localEntry{}, waiters: map[string]chan struct{}{},
		stop: stop, done: make(chan struct{}),
	}
	go l.run(ctx)
	return l
}

// Close stops the subscription; the cache then always uses the shared one.
func (l *Local) Close() {
	l.stop()
	<-l.done
}

// Healthy reports whether memory is in use: the subscription is confirmed
// and heard from within two ping periods.
func (l *Local) Healthy() bool {
	if !l.healthy.Load() {
		return false
	}
	return time.Now().UnixNano()-l.seen.Load() < int64(2*l.cfg.Ping)
}

// Get serves from memory while healthy, else from the shared cache (and
// keeps what it read there while healthy).
func (l *Local) Get(ctx context.Context, keyHash string) (*core.User, bool, error) {
	if !l.Healthy() {
		return l.shared.Get(ctx, keyHash)
	}
	now := l.clock.Now()
	l.mu.Lock()
	e, ok := l.entries[keyHash]
	l.mu.Unlock()
	if ok && now.Before(e.expires) {
		return copyUser(e.user), true, nil
	}
	gen := l.gen.Load()
	u, expires, ok, err := l.shared.get(ctx, keyHash)
	if err != nil || !ok {
		return u, ok, err
	}
	if limit := now.Add(l.cfg.TTL); limit.Before(expires) {
		expires = limit
	}
	l.mu.Lock()
	// Stored only if no invalidation was processed since before the read
	// and the subscription is still trusted.
	if l.gen.Load() == gen && l.Healthy() {
		if len(l.entries) >= l.cfg.MaxEntries {
			l.entries = map[string]localEntry{}
		}
		l.entries[keyHash] = localEntry{user: copyUser(u), expires: expires}
	}
	l.mu.Unlock()
	return u, true, nil
}

// Put writes the shared cache and, as a change of the user must show at
// once everywhere, drops the key from every replica's memory (waiting for
// their acknowledgements like Invalidate); memory refills from the shared
// cache on the next Get.
func (l *Local) Put(ctx context.Context, keyHash string, u *core.User, ttl time.Duration) error {
	l.drop(keyHash)
	if err := l.shared.Put(ctx, keyHash, u, ttl); err != nil {
		return err
	}
	return l.broadcast(ctx, keyHash)
}

// Invalidate removes the entry from the shared cache and from every
// replica's memory, and waits (up to AckWait) for their acknowledgements.
func (l *Local) Invalidate(ctx context.Context, keyHash string) error {
	l.drop(keyHash)
	if err := l.shared.Invalidate(ctx, keyHash); err != nil {
		return err
	}
	return l.broadcast(ctx, keyHash)
}

// broadcast tells every subscribed replica to drop keyHash from memory
// and waits (up to AckWait) until each has confirmed.
func (l *Local) broadcast(ctx context.Context, keyHash string) error {
	nonce := core.RandomHex(8)
	ch := make(chan struct{}, 64)
	l.mu.Lock()
	l.waiters[nonce] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.waiters, nonce)
		l.mu.Unlock()
	}()
	n, err := l.client.Publish(ctx, l.inval, nonce+" "+keyHash).Result()
	if err != nil {
		// No replica could be told: while Redis is unreachable for us it
		// most likely is for them, and their subscriptions are unhealthy
		// (memory unused). Reported like any shared-cache failure.
		return err
	}
	t := time.NewTimer(l.cfg.AckWait)
	defer t.Stop()
	for got := int64(0); got < n; got++ {
		select {
		case <-ch:
		case <-t.C:
			l.log.Warn("auth cache: not every replica confirmed an invalidation", "subscribers", n, "confirmed", got)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// drop removes keyHash from memory and bumps the generation.
func (l *Local) drop(keyHash string) {
	l.mu.Lock()
	l.gen.Add(1)
	delete(l.entries, keyHash)
	l.mu.Unlock()
}

// distrust stops using memory and empties it.
func (l *Local) distrust() {
	l.mu.Lock()
	l.healthy.Store(false)
	l.gen.Add(1)
	l.entries = map[string]localEntry{}
	l.mu.Unlock()
}

func (l *Local) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.subscribe(ctx)
		l.distrust()
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("auth cache: invalidation subscription lost; authenticating from the shared cache", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
}

// subscribe runs one subscription until it fails.
func (l *Local) subscribe(ctx context.Context) error {
	ps := l.client.Subscribe(ctx, l.inval, l.ack)
	defer ps.Close()
	confirmed := 0
	pingOut := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, l.cfg.Ping)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !isTimeout(err) || pingOut {
				return err // broken, or no pong within a period
			}
			if err := ps.Ping(ctx); err != nil {
				return err
			}
			pingOut = true
			continue
		}
		l.seen.Store(time.Now().UnixNano())
		pingOut = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				confirmed++
			}
			if confirmed == 2 && !l.healthy.Load() {
				// Anything invalidated while unsubscribed was missed:
				// start from an empty memory.
				l.mu.Lock()
				l.gen.Add(1)
				l.entries = map[string]localEntry{}
				l.healthy.Store(true)
				l.mu.Unlock()
			}
		case *redis.Pong:
		case *redis.Message:
			l.handle(ctx, m)
		}
	}
}

func (l *Local) handle(ctx context.Context, m *redis.Message) {
	switch m.Channel {
	case l.inval:
		nonce, hash, ok := strings.Cut(m.Payload, " ")
		if !ok {
			return
		}
		l.drop(hash)
		// Acknowledge on a separate connection (the subscription's cannot
		// publish); a failed acknowledgement only delays the invalidator.
		go func() {
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.AckWait)
			defer cancel()
			_ = l.client.Publish(c, l.ack, nonce).Err()
		}()
	case l.ack:
		l.mu.Lock()
		ch := l.waiters[m.Payload]
		l.mu.Unlock()
		if ch != nil {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
