package sqlite

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/adapters/sqlite/internal/dbsqlc"
)

// insertedRow stands for reading the inserted row back, so it must carry
// every column: the insert binds each column of the row (a column added
// with a default the insert leaves out would break this), and each bound
// value lands in the row's field of the same name.
func TestInsertedRowCarriesEveryColumn(t *testing.T) {
	t.Parallel()
	rowType, paramsType := reflect.TypeFor[dbsqlc.Cue](), reflect.TypeFor[dbsqlc.CueInsertParams]()
	require.Equal(t, rowType.NumField(), paramsType.NumField(), "CueInsert binds every column")

	// Every field set to a value of its own.
	var p dbsqlc.CueInsertParams
	pv := reflect.ValueOf(&p).Elem()
	for i := range pv.NumField() {
		f := pv.Field(i)
		v := f
		if f.Kind() == reflect.Pointer {
			f.Set(reflect.New(f.Type().Elem()))
			v = f.Elem()
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(paramsType.Field(i).Name)
		case reflect.Int64:
			v.SetInt(int64(i + 1))
		default:
			t.Fatalf("field %s: unexpected kind %s", paramsType.Field(i).Name, v.Kind())
		}
	}
	row := reflect.ValueOf(insertedRow(&p)).Elem()
	for i := range paramsType.NumField() {
		name := paramsType.Field(i).Name
		got := row.FieldByName(name)
		require.True(t, got.IsValid(), "the row has no %s", name)
		require.Equal(t, pv.Field(i).Interface(), got.Interface(), name)
	}
}
