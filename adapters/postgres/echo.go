package postgres

import (
	"context"
	"fmt"

	"github.com/cueapi/cueapi/adapters/postgres/internal/dbsqlc"
	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// EchoPut stores the entry under its token, overwriting any previous one,
// in one upsert. An empty Body stores JSON null; nil Headers store {}.
func (s *Store) EchoPut(ctx context.Context, p *core.EchoEntry) error {
	const op = "echo put"
	body, err := sqlkit.CompactJSON(p.Body, []byte("null"))
	if err != nil {
		return dbErr.Op(op, fmt.Errorf("body: %w", err))
	}
	headers, err := sqlkit.Headers(p.Headers)
	if err != nil {
		return dbErr.Op(op, fmt.Errorf("headers: %w", err))
	}
	err = s.q.EchoPut(ctx, s.rd, &dbsqlc.EchoPutParams{
		Token: p.Token, Body: body, Headers: headers, ReceivedAt: p.ReceivedAt, ExpiresAt: p.ExpiresAt,
	})
	return dbErr.Interpret(op, err)
}

// EchoGet returns the entry of the token if it expires after p.Now.
// ErrNotFound otherwise.
func (s *Store) EchoGet(ctx context.Context, p *core.EchoGetParams) (*core.EchoEntry, error) {
	const op = "echo get"
	row, err := s.q.EchoGet(ctx, s.rd, &dbsqlc.EchoGetParams{Token: p.Token, Now: p.Now})
	if err != nil {
		return nil, dbErr.Interpret(op, err)
	}
	var d sqlkit.Decoder
	e := &core.EchoEntry{
		Token:      row.Token,
		Body:       jsonValue(row.Body),
		Headers:    d.StringMap("headers", row.Headers),
		ReceivedAt: utc(row.ReceivedAt),
		ExpiresAt:  utc(row.ExpiresAt),
	}
	if d.Err != nil {
		return nil, dbErr.Op(op, d.Err)
	}
	return e, nil
}

// EchoPurge deletes the echo entries expired at p.Before (by index) in one
// statement and returns how many went.
func (s *Store) EchoPurge(ctx context.Context, p *core.EchoPurgeParams) (int, error) {
	n, err := s.q.EchoPurge(ctx, s.rd, p.Before)
	if err != nil {
		return 0, dbErr.Interpret("echo purge", err)
	}
	return int(n), nil
}
