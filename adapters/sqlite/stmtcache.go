package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	_ "modernc.org/sqlite" // registers "sqlite"
)

// maxCachedStmts bounds the prepared statements kept per connection (the
// adapter has a few hundred distinct queries).
const maxCachedStmts = 512

// openCached opens dsn like sql.Open("sqlite", dsn), with every connection
// keeping its prepared statements: a query with arguments (every sqlc
// query) is parsed once per connection instead of at each execution
// (SQLite still re-prepares a statement whose plan depends on a bound
// value). Queries without arguments (migrations, scripts, PRAGMAs) run
// unprepared as before.
func openCached(dsn string) (*sql.DB, error) {
	// The driver registered as "sqlite" (with whatever is registered on it).
	reg, err := sql.Open("sqlite", "")
	if err != nil {
		return nil, err
	}
	drv := reg.Driver()
	_ = reg.Close()
	return sql.OpenDB(cachingConnector{dsn: dsn, drv: drv}), nil
}

type cachingConnector struct {
	dsn string
	drv driver.Driver
}

func (c cachingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		_ = conn.Close()
		return nil, errors.New("sqlite: driver connection lacks the context methods")
	}
	return &cachingConn{sqliteConn: inner, stmts: map[string]driver.Stmt{}}, nil
}

func (c cachingConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what modernc.org/sqlite's connection implements and the
// cache forwards.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is one connection with its statement cache. database/sql
// never uses a connection from two goroutines at once, so the map needs no
// lock. The adapter never runs a query again while the rows of the same
// query are still open on the connection (sqlc reads :many results fully),
// which reusing a statement requires.
type cachingConn struct {
	sqliteConn
	stmts map[string]driver.Stmt
}

var (
	_ driver.ExecerContext  = (*cachingConn)(nil)
	_ driver.QueryerContext = (*cachingConn)(nil)
)

func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	if len(c.stmts) >= maxCachedStmts {
		c.closeStmts()
	}
	s, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = s
	return s, nil
}

// ExecContext runs a query with arguments through its cached statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.(driver.StmtExecContext).ExecContext(ctx, args)
}

// QueryContext runs a query with arguments through its cached statement.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (c *cachingConn) closeStmts() {
	for q, s := range c.stmts {
		_ = s.Close()
		delete(c.stmts, q)
	}
}

// Close finalizes the cached statements, then closes the connection.
func (c *cachingConn) Close() error {
	c.closeStmts()
	return c.sqliteConn.Close()
}
