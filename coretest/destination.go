package coretest

import (
	"io/fs"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// DestinationBackfillSQL is the statement of migration 0011 (in fsys, a
// dialect's migrations) that fills executions.destination for executions
// created before it.
func DestinationBackfillSQL(t testing.TB, fsys fs.FS) string {
	t.Helper()
	body, err := fs.ReadFile(fsys, "0011_delivery_destination.up.sql")
	require.NoError(t, err)
	for _, stmt := range strings.Split(string(body), ";\n") {
		var code []string
		for _, line := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				code = append(code, line)
			}
		}
		if s := strings.TrimSpace(strings.Join(code, "\n")); strings.HasPrefix(s, "UPDATE executions") {
			return s
		}
	}
	t.Fatal("migration 0011 has no UPDATE executions statement")
	return ""
}

// RequireDestinationBackfill checks migration 0011's backfill (run by
// backfill on s's database): executions still to be delivered that have
// no destination (as before the migration) get DestinationOf their cue's
// callback URL, as executions created since get at creation; finished ones
// and worker executions keep none.
func RequireDestinationBackfill(t *testing.T, s core.Store, backfill func(stmt string) error, stmt string) {
	t.Helper()
	u := CreateUser(t, s, nil)
	urls := []string{
		"https://Hooks.Example.com/path?x=1",
		"http://127.0.0.1:8080/a/b",
		"https://user:pw@api.example.org:8443/x#frag",
		"https://example.net",
		"https://example.net?q=1",
		"https://[::1]:9000/v6",
	}
	type row struct {
		e    *core.Execution
		want string
	}
	var rows []row
	for i, raw := range urls {
		c := NewCue(u.ID, nil)
		c.Callback.URL = &raw
		c, err := s.CueCreate(t.Context(), &core.CueCreateParams{Cue: c, ActiveCueLimit: math.MaxInt32})
		require.NoError(t, err)
		pending := NewExecution(c, engineNow.Add(-time.Duration(i)*time.Second))
		pending.Destination = ""
		done := NewExecution(c, engineNow.Add(-time.Duration(i+100)*time.Second))
		done.Destination, done.Status = "", core.ExecSuccess
		rows = append(rows, row{createExecution(t, s, pending), core.DestinationOf(raw)}, row{createExecution(t, s, done), ""})
	}
	w := CreateCue(t, s, u.ID, &CueOpts{Transport: core.TransportWorker})
	we := NewExecution(w, engineNow)
	rows = append(rows, row{createExecution(t, s, we), ""})

	require.NoError(t, backfill(stmt))
	for _, r := range rows {
		got, err := s.ExecutionGet(t.Context(), &core.ExecutionGetParams{TenantID: u.ID, ID: r.e.ID})
		require.NoError(t, err)
		require.Equal(t, r.want, got.Destination, "execution %s (%s)", r.e.ID, r.e.Status)
	}
	require.Equal(t, "hooks.example.com", core.DestinationOf(urls[0]))
	require.Equal(t, "api.example.org:8443", core.DestinationOf(urls[2]))
}
