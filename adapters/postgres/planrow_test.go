package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
)

// TestPlanPool: rows scanned with cached plans read what pgx's own scan
// reads, keep pgx's errors, and re-plan when a destination type or a
// column's type changes.
func TestPlanPool(t *testing.T) {
	s := pgtest.NewStore(t)
	ctx := t.Context()
	db := s.PlanDBForTest()
	_, err := db.Exec(ctx, `CREATE TABLE plan_t (a int NOT NULL, b text NOT NULL, c timestamptz, d uuid NOT NULL)`)
	require.NoError(t, err)
	at := time.Date(2026, 12, 6, 3, 4, 5, 123456000, time.UTC)
	_, err = db.Exec(ctx, `INSERT INTO plan_t VALUES (1, 'one', $1, '00000000-0000-4000-8000-000000000001'), (2, 'two', NULL, '00000000-0000-4000-8000-000000000002'), (3, 'three', $1, '00000000-0000-4000-8000-000000000003')`, at)
	require.NoError(t, err)
	const one = `SELECT a, b, c, d FROM plan_t WHERE a = $1`

	// The same statement, many times (the pool's connections each plan it
	// once): the values are those of the row asked for.
	for i := range 20 {
		want := int32(i%3 + 1)
		var a int32
		var b string
		var c *time.Time
		var d string
		require.NoError(t, db.QueryRow(ctx, one, want).Scan(&a, &b, &c, &d))
		require.Equal(t, want, a)
		require.Equal(t, []string{"one", "two", "three"}[want-1], b)
		if want == 2 {
			require.Nil(t, c)
		} else {
			require.NotNil(t, c)
			require.True(t, at.Equal(*c), "%v", *c)
		}
		require.Equal(t, "00000000-0000-4000-8000-00000000000"+string(rune('0'+want)), d)
	}

	// Other destination types for the same statement: planned again.
	var a64 int64
	var bb []byte
	var ct time.Time
	var du [16]byte
	require.NoError(t, db.QueryRow(ctx, one, 3).Scan(&a64, &bb, &ct, &du))
	require.Equal(t, int64(3), a64)
	require.Equal(t, "three", string(bb))
	require.True(t, at.Equal(ct))
	require.Equal(t, byte(3), du[15])

	// pgx's errors: no row, and a column that does not fit its destination.
	var a int32
	var b string
	var c *time.Time
	var d string
	err = db.QueryRow(ctx, one, 99).Scan(&a, &b, &c, &d)
	require.ErrorIs(t, err, pgx.ErrNoRows)
	var bad int32
	err = db.QueryRow(ctx, one, 1).Scan(&a, &bad, &c, &d)
	var scanErr pgx.ScanArgError
	require.True(t, errors.As(err, &scanErr), "%v", err)
	require.Equal(t, 1, scanErr.ColumnIndex)
	err = db.QueryRow(ctx, one, 2).Scan(&a, &b, &ct, &d) // NULL into a time.Time
	require.True(t, errors.As(err, &scanErr), "%v", err)
	require.Equal(t, 2, scanErr.ColumnIndex)

	// Rows: every row, in order.
	rows, err := db.Query(ctx, `SELECT a, b, c, d FROM plan_t ORDER BY a`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		require.NoError(t, rows.Scan(&a, &b, &c, &d))
		got = append(got, b)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, []string{"one", "two", "three"}, got)

	// A column whose type changes under a cached statement: pgx prepares
	// it again (the first attempt may fail with "cached plan must not
	// change result type"), and the scan plans follow the new type.
	var as string
	require.NoError(t, db.QueryRow(ctx, one, 1).Scan(&as, &b, &c, &d)) // an int into a string
	require.Equal(t, "1", as)
	_, err = db.Exec(ctx, `ALTER TABLE plan_t ALTER COLUMN a TYPE text USING 'x' || a::text`)
	require.NoError(t, err)
	for range 20 { // each pooled connection may fail once
		if err = db.QueryRow(ctx, one, "x1").Scan(&as, &b, &c, &d); err == nil {
			break
		}
	}
	require.NoError(t, err)
	require.Equal(t, "x1", as, "the same destinations, planned for the new column type")
}
