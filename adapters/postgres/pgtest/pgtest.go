// Package pgtest builds isolated PostgreSQL stores for tests. Test support
// only: non-test code must not import it.
//
// Each store lives in its own schema t_<random> of the database at URL(),
// migrated on creation and dropped when the test ends, so tests run in
// parallel against one database without seeing each other's rows.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cueapi/cueapi/adapters/postgres"
	"github.com/cueapi/cueapi/core"
)

// DefaultURL is the database used when TEST_DATABASE_URL is unset: a local
// PostgreSQL with trust authentication.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL returns TEST_DATABASE_URL, or DefaultURL when it is unset.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewStore returns a migrated Store in a fresh schema (see SchemaURL),
// closed at the end of the test.
func NewStore(t testing.TB) *postgres.Store {
	t.Helper()
	connString := SchemaURL(t)
	s, err := postgres.New(t.Context(), postgres.Config{URL: connString, MaxConns: 4})
	if err != nil {
		t.Fatalf("pgtest: new store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() }) // runs before the schema is dropped
	return s
}

// SchemaURL creates an empty schema t_<random> and returns URL() with its
// search_path set to it; the schema is dropped with everything in it at the
// end of the test (close stores on it first: cleanups registered later run
// earlier). When the database cannot be reached it skips the test with a
// clear message, or fails it when CI=true.
func SchemaURL(t testing.TB) string {
	t.Helper()
	requireReachable(t)
	schema := "t_" + core.RandomHex(8)
	if err := adminExec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := adminExec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(URL(), schema)
}

var (
	probeOnce sync.Once
	probeErr  error
)

// requireReachable probes the database once per process.
func requireReachable(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		probeErr = adminExec(ctx, "SELECT 1")
	})
	if probeErr == nil {
		return
	}
	msg := fmt.Sprintf("pgtest: PostgreSQL at %s is unreachable (set TEST_DATABASE_URL): %v", redacted(URL()), probeErr)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// adminExec runs one statement on a short-lived connection of its own, so
// nothing outlives the test (goleak-friendly).
func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// withSearchPath returns the connection string with search_path set to
// schema, in URL or key=value form.
func withSearchPath(connString, schema string) string {
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(connString) + " search_path=" + schema
}

// redacted hides a URL's password for messages.
func redacted(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return "the TEST_DATABASE_URL connection string"
}
