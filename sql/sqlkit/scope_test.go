package sqlkit_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
	"github.com/cueapi/cueapi/sql/sqlkit"
)

const (
	upperID = "0190A0B0-C0D0-7000-8000-000000000001"
	lowerID = "0190a0b0-c0d0-7000-8000-000000000001"
	otherID = "0190a0b0-c0d0-7000-8000-000000000002"
)

func TestScope(t *testing.T) {
	mustNotRun := func(string) (int, error) { t.Fatal("fn must not run for an id that is not a UUID"); return 0, nil }

	t.Run("FindCanonicalizesOrAnswersNotFound", func(t *testing.T) {
		got, err := sqlkit.Find(kit, "get", upperID, func(id string) (string, error) { return id, nil })
		require.NoError(t, err)
		require.Equal(t, lowerID, got)
		_, err = sqlkit.Find(kit, "get", "not-a-uuid", mustNotRun)
		require.ErrorIs(t, err, core.ErrNotFound)
		require.EqualError(t, err, "db: get: "+core.ErrNotFound.Error())
	})

	t.Run("Find2NeedsBothIDs", func(t *testing.T) {
		got, err := sqlkit.Find2(kit, "get", upperID, otherID, func(a, b string) (string, error) { return a + "/" + b, nil })
		require.NoError(t, err)
		require.Equal(t, lowerID+"/"+otherID, got)
		for _, ids := range [][2]string{{"x", otherID}, {otherID, "x"}} {
			_, err := sqlkit.Find2(kit, "get", ids[0], ids[1], func(string, string) (int, error) { return mustNotRun("") })
			require.ErrorIs(t, err, core.ErrNotFound)
		}
		require.ErrorIs(t, sqlkit.Do2(kit, "put", lowerID, "x", func(string, string) error { return nil }), core.ErrNotFound)
		mine := errors.New("mine")
		require.Same(t, mine, sqlkit.Do2(kit, "put", lowerID, otherID, func(string, string) error { return mine }))
	})

	t.Run("DoReturnsFnsError", func(t *testing.T) {
		mine := errors.New("mine")
		require.Same(t, mine, sqlkit.Do(kit, "put", lowerID, func(string) error { return mine }))
		require.ErrorIs(t, sqlkit.Do(kit, "put", "x", func(string) error { return nil }), core.ErrNotFound)
	})

	t.Run("ScanAnswersNone", func(t *testing.T) {
		n, err := sqlkit.Scan("x", 7, mustNotRun)
		require.NoError(t, err)
		require.Equal(t, 7, n)
		n, err = sqlkit.Scan(lowerID, 7, func(string) (int, error) { return 3, nil })
		require.NoError(t, err)
		require.Equal(t, 3, n)
	})

	t.Run("RowsConvertsAndIsNeverNil", func(t *testing.T) {
		atoi := func(s string) (int, error) { return strconv.Atoi(s) }
		got, err := sqlkit.Rows(kit, "list", "x", func(string) ([]string, error) { t.Fatal("must not read"); return nil, nil }, atoi)
		require.NoError(t, err)
		require.NotNil(t, got)
		require.Empty(t, got)

		got, err = sqlkit.Rows(kit, "list", lowerID, func(string) ([]string, error) { return nil, nil }, atoi)
		require.NoError(t, err)
		require.NotNil(t, got)

		got, err = sqlkit.Rows(kit, "list", lowerID, func(string) ([]string, error) { return []string{"1", "2"}, nil }, atoi)
		require.NoError(t, err)
		require.Equal(t, []int{1, 2}, got)

		_, err = sqlkit.Rows(kit, "list", lowerID, func(string) ([]string, error) { return []string{"1", "b"}, nil }, atoi)
		require.ErrorContains(t, err, "db: list: ")
		_, err = sqlkit.Rows(kit, "list", lowerID, func(string) ([]string, error) { return nil, errNoRows }, atoi)
		require.ErrorIs(t, err, core.ErrNotFound, "the read error is interpreted")
	})
}

func TestReadPage(t *testing.T) {
	atoi := func(s string) (int, error) { return strconv.Atoi(s) }
	page := sqlkit.NewListing[int]()
	items, total, err := page.Of(nil)
	require.NoError(t, err)
	require.NotNil(t, items, "an untouched page is empty, not nil")
	require.Zero(t, total)

	err = sqlkit.ReadPage(page, kit, "list", func() ([]string, error) { return []string{"4", "5"}, nil }, atoi,
		func() (int64, error) { return 9, nil })
	require.NoError(t, err)
	items, total, err = page.Of(err)
	require.NoError(t, err)
	require.Equal(t, []int{4, 5}, items)
	require.Equal(t, 9, total)

	_, _, err = page.Of(errors.New("tx failed"))
	require.EqualError(t, err, "tx failed")

	err = sqlkit.ReadPage(sqlkit.NewListing[int](), kit, "list", func() ([]string, error) { return []string{"z"}, nil }, atoi,
		func() (int64, error) { t.Fatal("no count after a failed conversion"); return 0, nil })
	require.ErrorContains(t, err, "db: list: ")
	err = sqlkit.ReadPage(sqlkit.NewListing[int](), kit, "list", func() ([]string, error) { return nil, nil }, atoi,
		func() (int64, error) { return 0, driverErr{sqlkit.Unique} })
	require.ErrorIs(t, err, core.ErrConflict, "the count error is interpreted")
}

func TestAffectedAndValue(t *testing.T) {
	require.NoError(t, kit.Affected("del", 1, nil))
	require.ErrorIs(t, kit.Affected("del", 0, nil), core.ErrNotFound)
	require.ErrorIs(t, kit.Affected("del", 1, driverErr{sqlkit.Unique}), core.ErrConflict)

	out := 5
	v, err := sqlkit.Value(&out, nil)
	require.NoError(t, err)
	require.Equal(t, 5, v)
	v, err = sqlkit.Value(&out, errors.New("x"))
	require.Error(t, err)
	require.Zero(t, v, "no value with an error")
}

func TestModify(t *testing.T) {
	read := func() (int, error) { return 1, nil }
	conv := func(n int) (*int, error) {
		if n < 0 {
			return nil, errors.New("negative")
		}
		return &n, nil
	}
	var saved []int
	save := func(row int, v *int) (int, error) { saved = append(saved, row, *v); return *v * 10, nil }
	got, err := sqlkit.Modify(kit, "upd", read, conv, func(v *int) error { *v = 4; return nil }, save)
	require.NoError(t, err)
	require.Equal(t, 40, *got, "the stored row, converted")
	require.Equal(t, []int{1, 4}, saved, "saved over the row read")

	_, err = sqlkit.Modify(kit, "upd", func() (int, error) { return 0, errNoRows }, conv, nil, save)
	require.ErrorIs(t, err, core.ErrNotFound)

	mine := errors.New("fn refused")
	saved = nil
	_, err = sqlkit.Modify(kit, "upd", read, conv, func(*int) error { return mine }, save)
	require.Same(t, mine, err, "fn's error is returned as is")
	require.Empty(t, saved, "nothing saved after fn refused")

	_, err = sqlkit.Modify(kit, "upd", read, conv, func(*int) error { return nil },
		func(int, *int) (int, error) { return 0, driverErr{sqlkit.Unique} })
	require.ErrorIs(t, err, core.ErrConflict)
}

func TestArgsAndNamed(t *testing.T) {
	var enc sqlkit.Args
	require.Equal(t, lowerID, enc.ID("user id", upperID))
	require.Nil(t, enc.OptionalID("user id", nil))
	require.Equal(t, `{"a":1}`, string(enc.JSON("metadata", []byte(`{ "a": 1 }`), nil)))
	require.NoError(t, enc.Err)
	enc.OptionalID("execution id", new("nope"))
	enc.ID("alert id", "also-nope")
	require.EqualError(t, enc.Err, `execution id "nope" is not a UUID`, "the first failure is kept")

	var j sqlkit.Args
	j.JSON("metadata", []byte(`{`), nil)
	require.ErrorContains(t, j.Err, "metadata: invalid JSON")

	require.Nil(t, sqlkit.Named[core.CueID](nil))
	require.Equal(t, core.CueID("cue_1"), *sqlkit.Named[core.CueID](new("cue_1")))
	require.Nil(t, sqlkit.Text[core.OutcomeState](nil))
	require.Equal(t, "reported", *sqlkit.Text(new(core.OutcomeState("reported"))))
}

// textTimes stores times as RFC 3339 text, like a dialect without a time
// type.
var textTimes = sqlkit.Times[string]{
	Encode: func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	Decode: func(s string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("decode time %q: %w", s, err)
		}
		return t, nil
	},
}

func TestUserMapping(t *testing.T) {
	at := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	u := &core.User{
		ID: upperID, Email: "a@example.com", APIKeyHash: "h", APIKeyPrefix: "cue_sk_", APIKeySealed: new("sealed"),
		Plan: "pro", ActiveCueLimit: 10, MonthlyExecutionLimit: 1000, RateLimitPerMinute: 60,
		WebhookSecretSealed: "ws", AlertWebhookURL: new("https://example.com/a"), CreatedAt: at, UpdatedAt: at.Add(time.Hour),
	}
	row, err := sqlkit.UserInsertOf[int32](u, textTimes)
	require.NoError(t, err)
	require.Equal(t, lowerID, row.ID)
	require.Equal(t, int32(1000), row.MonthlyExecutionLimit)
	back, err := sqlkit.UserOf(row, textTimes)
	require.NoError(t, err)
	want := *u
	want.ID = lowerID
	require.Equal(t, &want, back, "a user survives the round trip")

	upd := sqlkit.UserUpdateOf[int64](lowerID, back, textTimes)
	require.Equal(t, lowerID, upd.ID)
	require.Equal(t, int64(60), upd.RateLimitPerMinute)
	require.Equal(t, textTimes.Encode(u.UpdatedAt), upd.UpdatedAt)

	_, err = sqlkit.UserInsertOf[int64](&core.User{ID: "not-a-uuid"}, textTimes)
	require.EqualError(t, err, `user id "not-a-uuid" is not a UUID`)
	row.CreatedAt = "yesterday"
	_, err = sqlkit.UserOf(row, textTimes)
	require.ErrorContains(t, err, `decode time "yesterday"`)
}

func TestDeviceCodeMapping(t *testing.T) {
	at := time.Date(2026, 3, 20, 16, 0, 0, 0, time.UTC)
	user := core.TenantID(upperID)
	c := &core.DeviceCode{ID: otherID, Code: "ABCD-1234", Status: "pending", UserID: &user, ExpiresAt: at.Add(10 * time.Minute), CreatedAt: at}
	row, err := sqlkit.DeviceCodeInsertOf(c, textTimes)
	require.NoError(t, err)
	require.Equal(t, lowerID, *row.UserID, "user id canonical")
	back, err := sqlkit.DeviceCodeOf(row, textTimes)
	require.NoError(t, err)
	want := *c
	want.UserID = new(core.TenantID(lowerID))
	require.Equal(t, &want, back)

	upd, err := sqlkit.DeviceCodeUpdateOf(otherID, back)
	require.NoError(t, err)
	require.Equal(t, otherID, upd.ID)
	_, err = sqlkit.DeviceCodeUpdateOf(otherID, &core.DeviceCode{UserID: new(core.TenantID("bad"))})
	require.EqualError(t, err, `user id "bad" is not a UUID`)
	_, err = sqlkit.DeviceCodeInsertOf(&core.DeviceCode{ID: "bad"}, textTimes)
	require.EqualError(t, err, `device code id "bad" is not a UUID`)
}
