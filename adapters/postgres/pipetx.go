package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// pipeTx is a transaction on one pooled connection that sends its
// statements in as few round trips as the caller's data dependencies allow
// (a dbsqlc.DBTX, so the generated queries run on it unchanged):
//
//   - BEGIN travels with the first statement;
//   - a statement run through Hold() does not wait: it is sent, in order,
//     ahead of the next statement, whose call reports the held one's error
//     instead of its own result (for sqlc :exec queries, which return only
//     an error: the caller learns of a failure at the next statement,
//     before anything is committed);
//   - CommitWithNext makes the next statement (or batch) carry COMMIT
//     after it (one round trip for the last writes and the commit); a
//     failed statement makes the server skip the COMMIT, so nothing is
//     committed, and Commit reports it.
//
// A group of cue creations thus takes two round trips instead of five:
// BEGIN, tenant lock and count settle; inserts and COMMIT. Statements of
// one pipeline run one after another, each with its own snapshot (READ
// COMMITTED), exactly as if sent one at a time. Not safe for concurrent use.
type pipeTx struct {
	conn       *pgxpool.Conn
	begun      bool
	held       []*pgx.QueuedQuery
	commitNext bool
	commitSent bool
	committed  bool
	commitErr  error
}

// errNotCommitted is COMMIT answered by ROLLBACK: a statement of the
// transaction failed before it.
var errNotCommitted = errors.New("transaction rolled back: a statement failed before COMMIT")

// inPipeTx is inTx on a pipelined transaction: BEGIN travels with fn's
// first statement; COMMIT with its last when fn asked (CommitWithNext),
// else alone with the statements fn held.
func (s *Store) inPipeTx(ctx context.Context, op string, fn func(tx *pipeTx) error) error {
	return sqlkit.InTx(op, dbErr,
		func() (*pipeTx, error) { return s.beginPipelined(ctx) },
		func(tx *pipeTx) error { return tx.Commit(ctx) },
		func(tx *pipeTx) { tx.release() },
		fn)
}

// groupTx runs a group commit's members (fn) in one pipelined
// transaction. rolledBack says the error came from a statement inside it
// (nothing committed: each member may be retried alone), not from BEGIN or
// COMMIT.
func (s *Store) groupTx(ctx context.Context, op string, fn func(tx *pipeTx) error) (rolledBack bool, err error) {
	err = s.inPipeTx(ctx, op, func(tx *pipeTx) error {
		err := fn(tx)
		rolledBack = err != nil
		return err
	})
	return rolledBack, err
}

// beginPipelined acquires a connection for a pipeTx; nothing is sent yet.
func (s *Store) beginPipelined(ctx context.Context) (*pipeTx, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pipeTx{conn: conn}, nil
}

// Exec runs the statement after BEGIN and the held ones, in one round trip.
func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	res, err := t.send(ctx, []*pgx.QueuedQuery{{SQL: sql, Arguments: args}})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := res.br.Exec()
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Hold returns a DBTX whose Exec holds its statement for the next one
// sent on t (see pipeTx); its other methods fail. Only for statements
// whose result is nothing but an error (sqlc :exec).
func (t *pipeTx) Hold() dbsqlc.DBTX { return pipeHold{t} }

type pipeHold struct{ t *pipeTx }

var errHoldExecOnly = errors.New("postgres: only Exec can be held")

func (h pipeHold) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	h.t.held = append(h.t.held, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	return pgconn.CommandTag{}, nil
}
func (pipeHold) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errHoldExecOnly }
func (pipeHold) QueryRow(context.Context, string, ...any) pgx.Row        { return errRow{errHoldExecOnly} }
func (pipeHold) SendBatch(context.Context, *pgx.Batch) pgx.BatchResults {
	return errBatch{errHoldExecOnly}
}

// Query sends BEGIN and the held statements with the query, in one round
// trip.
func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	res, err := t.send(ctx, []*pgx.QueuedQuery{{SQL: sql, Arguments: args}})
	if err != nil {
		return nil, err
	}
	rows, err := res.br.Query()
	if err != nil {
		_ = res.Close()
		return nil, err
	}
	return &closingRows{Rows: rows, res: res}, nil
}

// QueryRow sends BEGIN and the held statements with the query, in one
// round trip.
func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	res, err := t.send(ctx, []*pgx.QueuedQuery{{SQL: sql, Arguments: args}})
	if err != nil {
		return errRow{err}
	}
	return &closingRow{row: res.br.QueryRow(), res: res}
}

// SendBatch sends BEGIN, the held statements and b's, in one round trip.
func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	res, err := t.send(ctx, b.QueuedQueries)
	if err != nil {
		return errBatch{err}
	}
	return res
}

// CommitWithNext makes the next statement or batch sent on t carry COMMIT:
// it is read, and Commit reports it, once that statement's rows or batch
// results are closed.
func (t *pipeTx) CommitWithNext() { t.commitNext = true }

// Commit sends the held statements and COMMIT, unless a batch carried it:
// then it reports that COMMIT's outcome.
func (t *pipeTx) Commit(ctx context.Context) error {
	if !t.commitSent {
		t.commitNext = true
		res, err := t.send(ctx, nil)
		if err != nil {
			return err
		}
		_ = res.Close()
	}
	return t.commitErr
}

// release rolls back what was not committed and returns the connection
// (the pool destroys one left inside a transaction).
func (t *pipeTx) release() {
	if t.begun && !t.committed {
		// A failed rollback leaves the connection in a transaction, and
		// the pool then closes it.
		_, _ = t.conn.Exec(context.Background(), "rollback")
	}
	t.conn.Release()
}

// send sends BEGIN (first time), the held statements, qs and, after
// CommitWithNext, COMMIT as one batch, and reads the results of BEGIN and
// the held ones: the results returned start at qs's first.
func (t *pipeTx) send(ctx context.Context, qs []*pgx.QueuedQuery) (*pipeResults, error) {
	commit := t.commitNext
	t.commitNext = false
	b := &pgx.Batch{}
	lead := 0
	if !t.begun {
		b.Queue("begin")
		lead++
		t.begun = true
	}
	held := t.held
	t.held = nil
	b.QueuedQueries = append(b.QueuedQueries, held...)
	b.QueuedQueries = append(b.QueuedQueries, qs...)
	if commit {
		b.Queue("commit")
		t.commitSent = true
	}
	res := &pipeResults{br: t.conn.SendBatch(ctx, b), tx: t, commit: commit}
	for range lead + len(held) {
		if _, err := res.br.Exec(); err != nil {
			if commit {
				t.commitErr = err // the server skips the rest, COMMIT included
			}
			_ = res.br.Close()
			return nil, err
		}
	}
	return res, nil
}

// pipeResults are a batch's results after BEGIN and the held statements;
// Close reads its COMMIT's, if it carries one.
type pipeResults struct {
	br     pgx.BatchResults
	tx     *pipeTx
	commit bool
}

func (r *pipeResults) Exec() (pgconn.CommandTag, error) { return r.br.Exec() }
func (r *pipeResults) Query() (pgx.Rows, error)         { return r.br.Query() }
func (r *pipeResults) QueryRow() pgx.Row                { return r.br.QueryRow() }
func (r *pipeResults) Tx() pgx.Tx                       { return nil }

// Close reads the COMMIT's result, then closes the batch.
func (r *pipeResults) Close() error {
	if r.commit {
		r.commit = false
		tag, err := r.br.Exec()
		switch {
		case err != nil:
			r.tx.commitErr = err
		case tag.String() != "COMMIT":
			r.tx.commitErr = fmt.Errorf("%w (%s)", errNotCommitted, tag.String())
		default:
			r.tx.committed = true
		}
	}
	return r.br.Close()
}

// closingRow closes its batch once scanned.
type closingRow struct {
	row pgx.Row
	res *pipeResults
}

func (r *closingRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.res.Close(); err == nil {
		err = cerr
	}
	return err
}

// closingRows close their batch once closed.
type closingRows struct {
	pgx.Rows
	res *pipeResults
}

func (r *closingRows) Close() {
	r.Rows.Close()
	_ = r.res.Close()
}

// errRow and errBatch report a failure to send (or of a held statement).
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (errBatch) Tx() pgx.Tx                         { return nil }
