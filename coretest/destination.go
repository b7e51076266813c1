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
	return migrationUpdate(t, fsys, "0011_delivery_destination.up.sql", "UPDATE executions")
}

// AlertDestinationBackfillSQL is the statement of migration 0012 (in fsys,
// a dialect's migrations) that fills alerts.destination for alerts queued
// before it.
func AlertDestinationBackfillSQL(t testing.TB, fsys fs.FS) string {
	t.Helper()
	return migrationUpdate(t, fsys, "0012_alert_destination.up.sql", "UPDATE alerts")
}

// migrationUpdate is the statement of migration file that starts with
// prefix (comments dropped).
func migrationUpdate(t testing.TB, fsys fs.FS, file, prefix string) string {
	t.Helper()
	body, err := fs.ReadFile(fsys, file)
	require.NoError(t, err)
	for _, stmt := range strings.Split(string(body), ";\n") {
		var code []string
		for _, line := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "--") {
				code = append(code, line)
			}
		}
		if s := strings.TrimSpace(strings.Join(code, "\n")); strings.HasPrefix(s, prefix) {
			return s
		}
	}
	t.Fatalf("migration %s has no %s statement", file, prefix)
	return ""
}

// backfillURLs are delivery URLs in the shapes a backfill must parse.
var backfillURLs = []string{
	"https://Hooks.Example.com/path?x=1",
	"http://127.0.0.1:8080/a/b",
	"https://user:pw@api.example.org:8443/x#frag",
	"https://example.net",
	"https://example.net?q=1",
	"https://[::1]:9000/v6",
}

// RequireAlertDestinationBackfill checks migration 0012's backfill (run by
// exec on s's database, after clearing every alert's destination as before
// the migration): alerts still to be delivered get DestinationOf their
// tenant's alert URL, as alerts queued since get at creation, so the claim
// takes them under it at once.
func RequireAlertDestinationBackfill(t *testing.T, s core.Store, exec func(stmt string) error, stmt string) {
	t.Helper()
	want := map[string]string{}
	for i, raw := range backfillURLs {
		u := acctUserAt(t, s, raw)
		a := acctAlert(u.ID, acctNow.Add(time.Duration(i)*time.Millisecond))
		require.True(t, acctRaise(t, s, a))
		want[a.ID] = core.DestinationOf(raw)
	}
	require.NoError(t, exec("UPDATE alerts SET destination = ''"))
	require.NoError(t, exec(stmt))
	ds := acctClaimAlerts(t, s, acctNow.Add(time.Minute), time.Minute, 100)
	got := map[string]string{}
	for _, d := range ds {
		got[d.Alert.ID] = d.Destination
	}
	require.Equal(t, want, got, "every alert claimed under its tenant's destination")
}

// RequireDestinationBackfill checks migration 0011's backfill (run by
// backfill on s's database): executions still to be delivered that have
// no destination (as before the migration) get DestinationOf their cue's
// callback URL, as executions created since get at creation; finished ones
// and worker executions keep none.
func RequireDestinationBackfill(t *testing.T, s core.Store, backfill func(stmt string) error, stmt string) {
	t.Helper()
	u := CreateUser(t, s, nil)
	urls := backfillURLs
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
