package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// EchoPut stores the entry under its token, overwriting any previous one,
// in one upsert. An empty Body stores JSON null; nil Headers store {}.
func (s *Store) EchoPut(ctx context.Context, p *core.EchoEntry) error {
	const op = "echo put"
	body, err := jsonArg(p.Body, "null")
	if err != nil {
		return dbErr.Op(op, fmt.Errorf("body: %w", err))
	}
	headers, err := sqlkit.Headers(p.Headers)
	if err != nil {
		return dbErr.Op(op, fmt.Errorf("headers: %w", err))
	}
	err = s.q.EchoPut(ctx, s.wdb, &dbsqlc.EchoPutParams{
		Token: p.Token, Body: body, Headers: string(headers), ReceivedAt: timeArg(p.ReceivedAt), ExpiresAt: timeArg(p.ExpiresAt),
	})
	return dbErr.Interpret(op, err)
}

// EchoGet returns the entry of the token if it expires after p.Now.
// ErrNotFound otherwise.
func (s *Store) EchoGet(ctx context.Context, p *core.EchoGetParams) (*core.EchoEntry, error) {
	const op = "echo get"
	row, err := s.q.EchoGet(ctx, s.rdb, &dbsqlc.EchoGetParams{Token: p.Token, Now: timeArg(p.Now)})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	var d decoder
	e := &core.EchoEntry{
		Token:      row.Token,
		Body:       json.RawMessage(row.Body),
		Headers:    d.StringMap("headers", []byte(row.Headers)),
		ReceivedAt: d.time(row.ReceivedAt),
		ExpiresAt:  d.time(row.ExpiresAt),
	}
	if d.Err != nil {
		return nil, dbErr.Op(op, d.Err)
	}
	return e, nil
}

// EchoPurge deletes the echo entries expired at p.Before (by index) in one
// statement and returns how many went.
func (s *Store) EchoPurge(ctx context.Context, p *core.EchoPurgeParams) (int, error) {
	n, err := s.q.EchoPurge(ctx, s.wdb, timeArg(p.Before))
	if err != nil {
		return 0, dbErr.Interpret("echo purge", err)
	}
	return int(n), nil
}
