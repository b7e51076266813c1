package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/coretest"
)

// newFeedPair returns two feeds (two replicas) on a channel of the test's
// own, so parallel tests never hear each other.
func newFeedPair(t *testing.T) (a, b *postgres.ChangeFeed) {
	url := pgtest.SchemaURL(t)
	cfg := postgres.ChangeFeedConfig{URL: url, Channel: "cueapi_test_" + core.RandomHex(8),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MaxBackoff: 200 * time.Millisecond}
	var err error
	a, err = postgres.NewChangeFeed(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	b, err = postgres.NewChangeFeed(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return a, b
}

func TestChangeFeedContract(t *testing.T) {
	t.Parallel()
	coretest.RunChangeFeedContract(t, func(t *testing.T) (core.ChangeFeed, core.ChangeFeed) {
		a, b := newFeedPair(t)
		return a, b
	})
}

// A dropped listening connection is re-established and changes flow again;
// local subscribers keep receiving local changes meanwhile.
func TestChangeFeedReconnects(t *testing.T) {
	t.Parallel()
	a, b := newFeedPair(t)
	ctx := t.Context()
	onB, cancel := b.Subscribe(ctx, "u1")
	defer cancel()

	pid := b.ListenerPIDForTest()
	require.NotZero(t, pid)
	admin, err := pgx.Connect(ctx, pgtest.URL())
	require.NoError(t, err)
	defer func() { _ = admin.Close(context.Background()) }()
	// Terminate this test's own listening backend (no other session).
	_, err = admin.Exec(ctx, "SELECT pg_terminate_backend($1)", int32(pid))
	require.NoError(t, err)

	// Local delivery does not depend on the connection.
	require.NoError(t, b.Publish(ctx, core.Change{Kind: core.ChangeCue, TenantID: "u1", EntityID: "local"}))
	select {
	case c := <-onB:
		require.Equal(t, "local", c.EntityID)
	case <-time.After(10 * time.Second):
		t.Fatal("local change not delivered")
	}

	// Probe from the other replica until one arrives (bounded): only a
	// reconnected listener can receive it.
	for i := 0; ; i++ {
		require.Less(t, i, 100, "listener did not come back")
		require.NoError(t, a.Publish(ctx, core.Change{Kind: core.ChangeCue, TenantID: "u1", EntityID: "probe-" + strconv.Itoa(i)}))
		select {
		case c := <-onB:
			// A probe slower than its wait may arrive during a later one.
			require.Contains(t, c.EntityID, "probe-")
			require.GreaterOrEqual(t, b.Reconnects(), 1)
			require.NotEqual(t, pid, b.ListenerPIDForTest())
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Changes published in a burst reach the other replica in publish order,
// and Close sends what is still queued.
func TestChangeFeedBurstInOrderAndFlushedOnClose(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	cfg := postgres.ChangeFeedConfig{URL: url, Channel: "cueapi_test_" + core.RandomHex(8),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := t.Context()
	a, err := postgres.NewChangeFeed(ctx, cfg)
	require.NoError(t, err)
	b, err := postgres.NewChangeFeed(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	onB, cancel := b.Subscribe(ctx, "u1")
	defer cancel()

	const n = core.ChangeBufferSize - 4
	for i := range n {
		require.NoError(t, a.Publish(ctx, core.Change{Kind: core.ChangeCue, TenantID: "u1", EntityID: strconv.Itoa(i)}))
	}
	a.Close() // returns once the queue is sent
	for i := range n {
		select {
		case c := <-onB:
			require.Equal(t, strconv.Itoa(i), c.EntityID)
		case <-time.After(10 * time.Second):
			t.Fatalf("change %d of %d not received", i, n)
		}
	}
}
