package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// TestClassifyFull fills a database capped by max_page_count: SQLITE_FULL
// is storage_full (503), never a 500.
func TestClassifyFull(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "full.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	_, err = db.ExecContext(ctx, "CREATE TABLE t (v TEXT)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "PRAGMA max_page_count = 4")
	require.NoError(t, err)
	big := strings.Repeat("x", 4096)
	var insErr error
	for range 100 {
		if _, insErr = db.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", big); insErr != nil {
			break
		}
	}
	require.Error(t, insErr)
	class, _ := classify(insErr)
	require.Equal(t, sqlkit.Full, class, "%v", insErr)
	e, ok := core.AsError(dbErr.Interpret("op", insErr))
	require.True(t, ok)
	require.Equal(t, core.KindUnavailable, e.Kind)
	require.Equal(t, core.CodeStorageFull, e.Code)
}

// TestClassifyBusy holds a write lock while another connection, with no
// busy timeout, writes: SQLITE_BUSY is service_unavailable.
func TestClassifyBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	ctx := context.Background()
	a, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	_, err = a.ExecContext(ctx, "CREATE TABLE t (v TEXT)")
	require.NoError(t, err)
	tx, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	_, err = tx.ExecContext(ctx, "INSERT INTO t (v) VALUES ('a')")
	require.NoError(t, err)

	b, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	_, err = b.ExecContext(ctx, "INSERT INTO t (v) VALUES ('b')")
	require.Error(t, err)
	class, _ := classify(err)
	require.Equal(t, sqlkit.Unavailable, class, "%v", err)
	e, ok := core.AsError(dbErr.Interpret("op", err))
	require.True(t, ok)
	require.Equal(t, core.CodeServiceUnavailable, e.Code)
}
