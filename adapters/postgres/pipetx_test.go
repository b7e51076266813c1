package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/postgres/pgtest"
)

// The pipelined transaction (two round trips per creation group): a held
// statement's failure is reported by the next statement and nothing is
// committed; COMMIT sent with a batch commits it, unless a statement of
// the batch failed, and then nothing of the transaction is committed and
// the connection is reusable.
func TestPipeTx(t *testing.T) {
	t.Parallel()
	s := pgtest.NewStore(t)
	ctx := t.Context()
	_, err := s.Pool().Exec(ctx, `CREATE TABLE pipe_probe (id integer PRIMARY KEY)`)
	require.NoError(t, err)
	count := func() int {
		var n int
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM pipe_probe`).Scan(&n))
		return n
	}
	batch := func(ids ...int) *pgx.Batch {
		b := &pgx.Batch{}
		for _, id := range ids {
			b.Queue(`INSERT INTO pipe_probe (id) VALUES ($1)`, id)
		}
		return b
	}

	t.Run("held statement fails the next", func(t *testing.T) {
		tx, err := s.BeginPipelinedForTest(ctx)
		require.NoError(t, err)
		_, err = tx.Hold().Exec(ctx, `INSERT INTO pipe_probe (id) VALUES ($1)`, 100)
		require.NoError(t, err, "held: not sent yet")
		_, err = tx.Hold().Exec(ctx, `INSERT INTO pipe_probe (id) VALUES (1/0)`)
		require.NoError(t, err)
		var one int
		err = tx.QueryRow(ctx, `SELECT 1`).Scan(&one)
		require.ErrorContains(t, err, "division by zero")
		require.Error(t, tx.Commit(ctx), "an aborted transaction does not commit")
		tx.ReleaseForTest()
		require.Equal(t, 0, count(), "the first held insert was rolled back too")
	})

	t.Run("held statement fails a commit batch", func(t *testing.T) {
		tx, err := s.BeginPipelinedForTest(ctx)
		require.NoError(t, err)
		_, err = tx.Hold().Exec(ctx, `INSERT INTO pipe_probe (id) VALUES (1/0)`)
		require.NoError(t, err)
		tx.CommitWithNext()
		br := tx.SendBatch(ctx, batch(7))
		_, err = br.Exec()
		require.ErrorContains(t, err, "division by zero")
		_ = br.Close()
		require.ErrorContains(t, tx.Commit(ctx), "division by zero", "not committed, and not sent again")
		tx.ReleaseForTest()
		require.Equal(t, 0, count())
	})

	t.Run("commit with the batch", func(t *testing.T) {
		tx, err := s.BeginPipelinedForTest(ctx)
		require.NoError(t, err)
		_, err = tx.Hold().Exec(ctx, `INSERT INTO pipe_probe (id) VALUES ($1)`, 1)
		require.NoError(t, err)
		tx.CommitWithNext()
		br := tx.SendBatch(ctx, batch(2, 3))
		for range 2 {
			_, err := br.Exec()
			require.NoError(t, err)
		}
		require.NoError(t, br.Close())
		require.NoError(t, tx.Commit(ctx), "committed by the batch; not sent again")
		tx.ReleaseForTest()
		require.Equal(t, 3, count())
	})

	t.Run("failed statement skips the commit", func(t *testing.T) {
		tx, err := s.BeginPipelinedForTest(ctx)
		require.NoError(t, err)
		var one int
		require.NoError(t, tx.QueryRow(ctx, `SELECT 1`).Scan(&one))
		_, err = tx.Exec(ctx, `INSERT INTO pipe_probe (id) VALUES ($1)`, 4)
		require.NoError(t, err)
		tx.CommitWithNext()
		br := tx.SendBatch(ctx, batch(5, 1, 6)) // 1 exists
		_, err = br.Exec()
		require.NoError(t, err)
		_, err = br.Exec()
		require.ErrorContains(t, err, "duplicate key")
		_ = br.Close()
		require.Error(t, tx.Commit(ctx))
		tx.ReleaseForTest()
		require.Equal(t, 3, count(), "nothing of the transaction is committed (4 and 5 neither)")
		for range 8 { // every pooled connection is usable: none was left in a transaction
			require.Equal(t, 3, count())
		}
	})
}
