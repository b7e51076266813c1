package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cueapi/cueapi/core"
)

// DefaultChangeChannel is the NOTIFY channel of the change feed.
const DefaultChangeChannel = "cueapi_changes"

// ChangeFeedConfig configures a ChangeFeed.
type ChangeFeedConfig struct {
	// URL is the connection string (as for Config.URL).
	URL string
	// Channel is the NOTIFY channel; DefaultChangeChannel when empty. Every
	// replica of one deployment must use the same one.
	Channel string
	// Log receives reconnects and dropped notifications.
	Log core.Logger
	// MaxBackoff caps the wait between reconnect attempts (5 s when 0).
	MaxBackoff time.Duration
}

// ChangeFeed is core.ChangeFeed over PostgreSQL LISTEN/NOTIFY: Publish
// delivers to this process's subscribers at once (whether or not the
// database is reachable) and queues the change for a sender that sends
// whatever has queued meanwhile in one pg_notify statement, so a write
// never waits for its announcement and a burst of writes costs one
// notifying transaction per round trip, not one each; a dedicated connection
// LISTENs and fans other processes' changes out to local subscribers,
// reconnecting with exponential backoff when the connection drops.
// Changes published while a process is disconnected are not replayed to it
// (the feed is best-effort, see core.ChangeFeed). Safe for concurrent use.
type ChangeFeed struct {
	local   *core.LocalFeed
	pool    *pgxpool.Pool
	cfg     ChangeFeedConfig
	origin  string
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	conn    *pgx.Conn
	reconns int

	sendMu   sync.Mutex
	sendQ    []string      // payloads not yet sent
	dropped  int           // payloads dropped since the last warning
	sendWake chan struct{} // capacity 1: the queue is not empty
	sendDone chan struct{}
}

const (
	// notifyBatchMax caps the payloads of one pg_notify statement.
	notifyBatchMax = 512
	// notifyQueueMax caps the queued payloads; beyond it (the database
	// unreachable) the oldest are dropped: the feed is best-effort.
	notifyQueueMax = 10000
)

var _ core.ChangeFeed = (*ChangeFeed)(nil)

// notification is a Change on the wire, tagged with the publishing process.
type notification struct {
	Origin string `json:"o"`
	core.Change
}

// NewChangeFeed connects the publishing pool and the listening connection
// and starts listening; it returns once LISTEN is in effect. Close it.
func NewChangeFeed(ctx context.Context, cfg ChangeFeedConfig) (*ChangeFeed, error) {
	if cfg.Channel == "" {
		cfg.Channel = DefaultChangeChannel
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Log == nil {
		return nil, errors.New("postgres: change feed needs a logger")
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse config: %w", err)
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	f := &ChangeFeed{local: core.NewLocalFeed(), pool: pool, cfg: cfg, origin: core.NewUUID(), done: make(chan struct{}),
		sendWake: make(chan struct{}, 1), sendDone: make(chan struct{})}
	conn, err := f.listen(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	f.setConn(conn)
	lctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	go f.run(lctx, conn)
	go f.send(lctx.Done())
	return f, nil
}

func (f *ChangeFeed) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, f.cfg.URL)
	if err != nil {
		return nil, dbErr.Interpret("listen connect", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.cfg.Channel}.Sanitize()); err != nil {
		_ = conn.Close(context.Background())
		return nil, dbErr.Interpret("listen", err)
	}
	return conn, nil
}

// run receives notifications until ctx ends, reconnecting as needed.
func (f *ChangeFeed) run(ctx context.Context, conn *pgx.Conn) {
	defer close(f.done)
	backoff := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				f.setConn(nil)
				if ctx.Err() != nil {
					return
				}
				f.cfg.Log.Warn("change feed: listening connection lost; reconnecting", "err", err)
				break
			}
			backoff = 100 * time.Millisecond
			f.deliver(n.Payload)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, f.cfg.MaxBackoff)
		c, err := f.listen(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.cfg.Log.Warn("change feed: reconnect failed", "err", err, "retry_in", backoff.String())
			continue
		}
		conn = c
		f.setConn(c)
		f.cfg.Log.Info("change feed: listening again")
	}
}

func (f *ChangeFeed) setConn(c *pgx.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conn = c
	if c != nil {
		f.reconns++
	}
}

func (f *ChangeFeed) deliver(payload string) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		f.cfg.Log.Warn("change feed: unreadable notification dropped", "err", err)
		return
	}
	if n.Origin == f.origin { // already delivered locally by Publish
		return
	}
	f.local.Deliver(n.Change)
}

// publishTimeout bounds one pg_notify statement.
const publishTimeout = 2 * time.Second

// Publish delivers the changes to this process's subscribers, then queues
// them for the other processes (see ChangeFeed). The error reports only a
// change that cannot be encoded.
func (f *ChangeFeed) Publish(ctx context.Context, cs ...core.Change) error {
	if len(cs) == 0 {
		return nil
	}
	f.local.Deliver(cs...)
	payloads := make([]string, len(cs))
	for i, c := range cs {
		b, err := json.Marshal(notification{Origin: f.origin, Change: c})
		if err != nil {
			return err
		}
		payloads[i] = string(b)
	}
	f.sendMu.Lock()
	f.sendQ = append(f.sendQ, payloads...)
	if over := len(f.sendQ) - notifyQueueMax; over > 0 {
		f.sendQ = f.sendQ[over:]
		f.dropped += over
	}
	f.sendMu.Unlock()
	select {
	case f.sendWake <- struct{}{}:
	default:
	}
	return nil
}

// send sends queued payloads until stop is closed, then what is still
// queued. Each statement is bounded by publishTimeout alone: no caller's
// context may cancel a batch that carries others' changes.
func (f *ChangeFeed) send(stop <-chan struct{}) {
	defer close(f.sendDone)
	for {
		select {
		case <-f.sendWake:
			f.flush(false)
		case <-stop:
			f.flush(true)
			return
		}
	}
}

// flush sends the queue, notifyBatchMax payloads per statement, in order.
// A statement that fails is logged and its payloads dropped; the final
// flush (Close) stops there.
func (f *ChangeFeed) flush(final bool) {
	for {
		f.sendMu.Lock()
		batch := f.sendQ[:min(len(f.sendQ), notifyBatchMax)]
		f.sendQ = f.sendQ[len(batch):]
		if len(f.sendQ) == 0 {
			f.sendQ = nil
		}
		dropped := f.dropped
		f.dropped = 0
		f.sendMu.Unlock()
		if dropped > 0 {
			f.cfg.Log.Warn("change feed: notifications dropped (queue full)", "count", dropped)
		}
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		// unnest keeps the array's order; NOTIFY keeps it within a transaction.
		_, err := f.pool.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i", f.cfg.Channel, batch)
		cancel()
		if err != nil {
			f.cfg.Log.Warn("change feed: notifications not sent", "count", len(batch), "err", dbErr.Interpret("notify", err))
			if final {
				return
			}
		}
	}
}

// Subscribe registers a subscriber of this process (see core.ChangeFeed).
func (f *ChangeFeed) Subscribe(ctx context.Context, tenant core.TenantID) (<-chan core.Change, func()) {
	return f.local.Subscribe(ctx, tenant)
}

// Reconnects counts how many times the listening connection was
// re-established (tests).
func (f *ChangeFeed) Reconnects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reconns - 1
}

// Close stops listening, sends the changes still queued (until a statement
// fails) and closes the connections.
func (f *ChangeFeed) Close() {
	f.cancel()
	<-f.done
	<-f.sendDone
	f.pool.Close()
}
