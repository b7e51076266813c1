package postgres

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// planPool is the pool as the generated queries' dbsqlc.DBTX, with one
// difference: rows (Query, QueryRow) scan with scan plans kept per
// connection and statement. pgx plans every column of every query
// afresh (pgtype.Map.PlanScan: a reflection walk and a few allocations per
// column); a single-row read of an execution (44 columns) spent more time
// planning its scan than scanning. A plan is rebuilt whenever its column's
// type, format or destination type changes, and it is only ever used on
// the connection whose type map built it, by the one caller holding that
// connection. Exec and SendBatch are the pool's.
type planPool struct {
	*pgxpool.Pool
	conns sync.Map // *pgx.Conn → connPlans
}

// maxPlannedStatements bounds a connection's plans (the generated queries
// are far fewer; dynamic SQL must not grow it without end).
const maxPlannedStatements = 512

// connPlans are one connection's scan plans by SQL text. Only the caller
// holding the connection uses them.
type connPlans map[string][]colPlan

// colPlan is one column's scan plan and what it was built for.
type colPlan struct {
	oid    uint32
	format int16
	typ    reflect.Type
	plan   pgtype.ScanPlan
}

// forget drops a closing connection's plans (pgxpool's BeforeClose).
func (p *planPool) forget(c *pgx.Conn) { p.conns.Delete(c) }

func (p *planPool) plansOf(c *pgx.Conn) connPlans {
	if v, ok := p.conns.Load(c); ok {
		return v.(connPlans)
	}
	cp := connPlans{}
	p.conns.Store(c, cp)
	return cp
}

// Query is pgxpool's Query whose rows scan with the connection's cached
// plans.
func (p *planPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		return rows, err
	}
	c := rows.Conn()
	return &planRows{Rows: rows, plans: p.plansOf(c), m: c.TypeMap(), sql: sql}, nil
}

// QueryRow is pgxpool's QueryRow (the query runs when Scan is called, which
// the generated code does at once) with cached scan plans.
func (p *planPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return &planRow{p: p, ctx: ctx, sql: sql, args: args}
}

// planRows are rows of a pooled connection (held until Close) that scan
// with its cached plans.
type planRows struct {
	pgx.Rows
	plans connPlans
	m     *pgtype.Map
	sql   string
}

// Scan behaves as pgx's Rows.Scan; a failure closes the rows.
func (r *planRows) Scan(dest ...any) error {
	if len(dest) == 1 {
		// A pgx.RowScanner or one column: pgx's own path.
		return r.Rows.Scan(dest...)
	}
	if err := r.plans.scan(r.m, r.sql, r.FieldDescriptions(), r.RawValues(), dest); err != nil {
		r.Close()
		return err
	}
	return nil
}

type planRow struct {
	p    *planPool
	ctx  context.Context
	sql  string
	args []any
}

// Scan behaves as pgx's Row.Scan: pgx.ErrNoRows without a row, the query's
// error, or the first scan error (a pgx.ScanArgError).
func (r *planRow) Scan(dest ...any) error {
	rows, err := r.p.Query(r.ctx, r.sql, r.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// scan scans values into dest with the statement's cached plans, planning
// the columns whose plan is missing or was built for something else.
func (cp connPlans) scan(m *pgtype.Map, sql string, fds []pgconn.FieldDescription, values [][]byte, dest []any) error {
	if len(fds) != len(dest) || len(values) != len(dest) {
		return fmt.Errorf("number of field descriptions must equal number of destinations, got %d and %d", len(fds), len(dest))
	}
	plans := cp[sql]
	if len(plans) != len(dest) {
		if len(cp) >= maxPlannedStatements {
			clear(cp)
		}
		plans = make([]colPlan, len(dest))
		cp[sql] = plans
	}
	for i, d := range dest {
		if d == nil {
			continue
		}
		fd, pl, t := &fds[i], &plans[i], reflect.TypeOf(d)
		if pl.plan == nil || pl.oid != fd.DataTypeOID || pl.format != fd.Format || pl.typ != t {
			*pl = colPlan{oid: fd.DataTypeOID, format: fd.Format, typ: t, plan: m.PlanScan(fd.DataTypeOID, fd.Format, d)}
		}
		if err := pl.plan.Scan(values[i], d); err != nil {
			return pgx.ScanArgError{ColumnIndex: i, FieldName: fd.Name, Err: err}
		}
	}
	return nil
}
