package sqlkit_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

// fakeMigrator records what Migrate asks of a dialect.
type fakeMigrator struct {
	calls   []string
	applied map[string]bool
	failOn  string
}

func (m *fakeMigrator) Lock(context.Context) error { m.calls = append(m.calls, "lock"); return nil }
func (m *fakeMigrator) Init(context.Context) error { m.calls = append(m.calls, "init"); return nil }
func (m *fakeMigrator) Applied(context.Context) (map[string]bool, error) {
	return m.applied, nil
}

func (m *fakeMigrator) Apply(_ context.Context, body string) error {
	if body == m.failOn {
		return errors.New("syntax error")
	}
	m.calls = append(m.calls, "apply "+body)
	return nil
}

func (m *fakeMigrator) Record(_ context.Context, version string, at time.Time) error {
	if at.Location() != time.UTC {
		return errors.New("not UTC")
	}
	m.calls = append(m.calls, "record "+version)
	return nil
}

func TestMigrate(t *testing.T) {
	fsys := fstest.MapFS{
		"0002_b.up.sql":   {Data: []byte("B")},
		"0001_a.up.sql":   {Data: []byte("A")},
		"0003_c.up.sql":   {Data: []byte("C")},
		"0001_a.down.sql": {Data: []byte("undo A")},
	}

	t.Run("AppliesPendingInNameOrder", func(t *testing.T) {
		m := &fakeMigrator{applied: map[string]bool{"0002_b": true}}
		require.NoError(t, sqlkit.Migrate(t.Context(), fsys, m))
		require.Equal(t, []string{"lock", "init", "apply A", "record 0001_a", "apply C", "record 0003_c"}, m.calls)
	})

	t.Run("StopsAtAFailingFileNamingIt", func(t *testing.T) {
		m := &fakeMigrator{applied: map[string]bool{}, failOn: "B"}
		err := sqlkit.Migrate(t.Context(), fsys, m)
		require.ErrorContains(t, err, "0002_b.up.sql: syntax error")
		require.Equal(t, []string{"lock", "init", "apply A", "record 0001_a"}, m.calls)
	})
}

var errNoRows = errors.New("no rows")

type driverErr struct{ class sqlkit.Class }

func (e driverErr) Error() string { return "driver" }

var kit = sqlkit.Errors{Prefix: "db", NoRows: errNoRows, Classify: func(err error) (sqlkit.Class, string) {
	var d driverErr
	if errors.As(err, &d) {
		return d.class, "c1"
	}
	return sqlkit.Other, ""
}}

func TestErrors(t *testing.T) {
	require.NoError(t, kit.Interpret("op", nil))
	require.NoError(t, kit.Tenant("op", nil))
	require.NoError(t, kit.Op("op", nil))

	err := kit.Interpret("get", errNoRows)
	require.ErrorIs(t, err, core.ErrNotFound)
	require.EqualError(t, err, "db: get: "+core.ErrNotFound.Error())

	err = kit.Interpret("put", driverErr{sqlkit.Unique})
	require.ErrorIs(t, err, core.ErrConflict)
	require.Contains(t, err.Error(), "(c1)")

	ce, ok := core.AsError(kit.Interpret("put", driverErr{sqlkit.BadText}))
	require.True(t, ok)
	require.Equal(t, core.KindUnprocessable, ce.Kind)

	require.NotErrorIs(t, kit.Interpret("put", driverErr{sqlkit.ForeignKey}), core.ErrNotFound)
	require.ErrorIs(t, kit.Tenant("put", driverErr{sqlkit.ForeignKey}), core.ErrNotFound)
	require.ErrorIs(t, kit.Tenant("put", driverErr{sqlkit.Unique}), core.ErrConflict)
}

func TestInTx(t *testing.T) {
	var log []string
	begin := func() (string, error) { log = append(log, "begin"); return "tx", nil }
	commit := func(string) error { log = append(log, "commit"); return nil }
	rollback := func(string) { log = append(log, "rollback") }

	require.NoError(t, sqlkit.InTx("op", kit, begin, commit, rollback, func(tx string) error {
		require.Equal(t, "tx", tx)
		return nil
	}))
	require.Equal(t, []string{"begin", "commit", "rollback"}, log)

	log = nil
	mine := errors.New("fn failed")
	err := sqlkit.InTx("op", kit, begin, commit, rollback, func(string) error { return mine })
	require.Same(t, mine, err, "fn's error is returned as is")
	require.Equal(t, []string{"begin", "rollback"}, log)

	err = sqlkit.InTx("op", kit, func() (string, error) { return "", errNoRows }, commit, rollback, func(string) error {
		t.Fatal("fn must not run")
		return nil
	})
	require.ErrorIs(t, err, core.ErrNotFound)
}

func TestCodecs(t *testing.T) {
	id, ok := sqlkit.UUID("0190A0B0-C0D0-7000-8000-000000000001")
	require.True(t, ok)
	require.Equal(t, "0190a0b0-c0d0-7000-8000-000000000001", id)
	_, ok = sqlkit.UUID("cue_abc")
	require.False(t, ok)

	maxRows, skip := sqlkit.Page[int32](0, -5)
	require.Equal(t, int32(math.MaxInt32), maxRows)
	require.Zero(t, skip)
	maxRows, skip = sqlkit.Page[int32](10, math.MaxInt64)
	require.Equal(t, int32(10), maxRows)
	require.Equal(t, int32(math.MaxInt32), skip)
	max64, _ := sqlkit.Page[int64](-1, 0)
	require.Equal(t, int64(math.MaxInt64), max64)
	require.Equal(t, int32(math.MinInt32), sqlkit.Clamp[int32](math.MinInt64))

	cols, err := sqlkit.CueJSONOf(&core.Cue{Payload: []byte(`{ "a" : 1 }`)})
	require.NoError(t, err)
	require.Equal(t, `{}`, string(cols.Headers))
	require.Equal(t, `{"a":1}`, string(cols.Payload))
	require.Equal(t, `[]`, string(cols.Backoff))
	_, err = sqlkit.CueJSONOf(&core.Cue{Payload: []byte(`{`)})
	require.ErrorContains(t, err, "payload")

	var d sqlkit.Decoder
	require.Equal(t, map[string]string{"X": "1"}, d.Headers([]byte(`{"X":"1"}`)))
	require.Equal(t, []int{1, 5}, d.Backoff([]byte(`[1,5]`)))
	require.NoError(t, d.Err)
	d.Backoff([]byte(`{`))
	d.Headers([]byte(`[`))
	require.ErrorContains(t, d.Err, "retry_backoff_minutes", "the first failure is kept")
}

// same is the identity conversion of a cue row.
func same(c sqlkit.CueSecret) (sqlkit.CueSecret, error) { return c, nil }

func TestDeliveries(t *testing.T) {
	at := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	execs := []*core.Execution{
		{ID: "e3", CueID: "cue_b", ScheduledFor: at.Add(time.Minute)},
		{ID: "e2", CueID: "cue_a", ScheduledFor: at},
		{ID: "e1", CueID: "cue_b", ScheduledFor: at},
	}
	var asked []string
	read := func(ids []string) ([]sqlkit.CueSecret, error) {
		asked = ids
		return []sqlkit.CueSecret{{Cue: &core.Cue{ID: "cue_b"}, SecretSealed: "sb"}, {Cue: &core.Cue{ID: "cue_a"}, SecretSealed: "sa"}}, nil
	}
	ds, err := sqlkit.Deliveries(execs, read, same)
	require.NoError(t, err)
	require.Equal(t, []string{"cue_a", "cue_b"}, asked, "distinct ids, sorted")
	var got []string
	for _, d := range ds {
		got = append(got, string(d.Execution.ID)+"/"+string(d.Cue.ID)+"/"+d.WebhookSecretSealed)
	}
	require.Equal(t, []string{"e1/cue_b/sb", "e2/cue_a/sa", "e3/cue_b/sb"}, got, "by scheduled time, then id")

	_, err = sqlkit.Deliveries(execs, func([]string) ([]sqlkit.CueSecret, error) {
		return []sqlkit.CueSecret{{Cue: &core.Cue{ID: "cue_a"}}}, nil
	}, same)
	require.ErrorContains(t, err, "cue cue_b of execution e3 is missing")

	bad := errors.New("bad row")
	_, err = sqlkit.Deliveries(execs, read, func(sqlkit.CueSecret) (sqlkit.CueSecret, error) { return sqlkit.CueSecret{}, bad })
	require.ErrorIs(t, err, bad, "a conversion failure is reported")

	_, err = sqlkit.Deliveries(execs, func([]string) ([]sqlkit.CueSecret, error) { return nil, errNoRows }, same)
	require.ErrorIs(t, err, errNoRows)
}

func TestRow(t *testing.T) {
	double := func(n int) (int, error) {
		if n < 0 {
			return 0, errors.New("negative")
		}
		return 2 * n, nil
	}
	v, err := sqlkit.Row(kit, "get", 21, nil, double)
	require.NoError(t, err)
	require.Equal(t, 42, v)

	_, err = sqlkit.Row(kit, "get", 0, errNoRows, double)
	require.ErrorIs(t, err, core.ErrNotFound)

	_, err = sqlkit.Row(kit, "get", -1, nil, double)
	require.EqualError(t, err, "db: get: negative")

	v, err = sqlkit.Row(kit, "get", 4, nil, sqlkit.Infallible(func(n int) int { return n + 1 }))
	require.NoError(t, err)
	require.Equal(t, 5, v)
}

// TestReadPageCountsOnlyWhenThePageCannotTell: a partial page ends the
// result, so its total is offset + rows without a count statement; a full
// page, or an empty page past the end, needs the count.
func TestReadPageCountsOnlyWhenThePageCannotTell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                 string
		limit, offset, rows  int
		wantCount            bool
		wantTotal, countSays int64
	}{
		{name: "PartialFirstPage", limit: 10, rows: 3, wantTotal: 3},
		{name: "PartialLaterPage", limit: 10, offset: 20, rows: 4, wantTotal: 24},
		{name: "NoLimit", limit: 0, rows: 7, wantTotal: 7},
		{name: "EmptyFirstPage", limit: 10, rows: 0, wantTotal: 0},
		{name: "FullPage", limit: 2, rows: 2, wantCount: true, countSays: 9, wantTotal: 9},
		{name: "EmptyPagePastTheEnd", limit: 10, offset: 50, rows: 0, wantCount: true, countSays: 12, wantTotal: 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := sqlkit.NewListing[int]().Window(tc.limit, tc.offset)
			counted := false
			err := sqlkit.ReadPage(l, kit, "list", func() ([]int, error) { return make([]int, tc.rows), nil },
				func(v int) (int, error) { return v, nil },
				func() (int64, error) { counted = true; return tc.countSays, nil })
			require.NoError(t, err)
			require.Equal(t, tc.wantCount, counted)
			require.Equal(t, tc.wantTotal, l.Total)
		})
	}
}
