package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

func TestClassifyOutage(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want sqlkit.Class
	}{
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, sqlkit.Unavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, sqlkit.Unavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, sqlkit.Unavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, sqlkit.Unavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, sqlkit.Unavailable},
		{"disk full", &pgconn.PgError{Code: "53100"}, sqlkit.Full},
		{"unique", &pgconn.PgError{Code: "23505"}, sqlkit.Unique},
		{"syntax", &pgconn.PgError{Code: "42601"}, sqlkit.Other},
		{"net error", fmt.Errorf("query: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset")}), sqlkit.Unavailable},
		{"unexpected EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), sqlkit.Unavailable},
		{"deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), sqlkit.Unavailable},
		{"plain", errors.New("boom"), sqlkit.Other},
	}
	for _, c := range cases {
		got, _ := classify(c.err)
		require.Equal(t, c.want, got, c.name)
	}
}

func TestInterpretOutage(t *testing.T) {
	e, ok := core.AsError(dbErr.Interpret("op", &pgconn.PgError{Code: "57P01"}))
	require.True(t, ok)
	require.Equal(t, core.KindUnavailable, e.Kind)
	require.Equal(t, core.CodeServiceUnavailable, e.Code)
	require.Equal(t, core.OutageRetryAfter, e.RetryAfter)

	e, ok = core.AsError(dbErr.Interpret("op", &pgconn.PgError{Code: "53100"}))
	require.True(t, ok)
	require.Equal(t, core.CodeStorageFull, e.Code)

	// A real failed connect (nothing listens on the port).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = pgconn.Connect(context.Background(), "postgres://postgres@"+addr+"/postgres?connect_timeout=5")
	require.Error(t, err)
	e, ok = core.AsError(dbErr.Interpret("op", err))
	require.True(t, ok, "%v", err)
	require.Equal(t, core.KindUnavailable, e.Kind)
}
