package api

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/api/apigen"
)

// jsonFiller fills any value of the generated types with random values
// that exercise encoding/json's rules: escapes, HTML characters, control
// bytes, invalid UTF-8, U+2028, raw JSON with spaces, times with and
// without fractions, in and out of RFC 3339's range. A kind it does not
// know fails the test: a new field type must be taught to it and to the
// appender.
type jsonFiller struct {
	t *testing.T
	r *rand.Rand
}

var (
	fillStrings = []string{"", "plain", "cue_abc123", `quote"back\slash`, "<script>alert(1)</script>&amp;",
		"ctl\x00\x01\b\f\n\r\t\x1f\x7f", "ünïcödé", "sep\u2028\u2029", "bad\xff\xfeutf8", "emoji 😀", "' single"}
	fillRaw = []string{"", "null", `{"a": 1, "b": [1, 2, {"c": "d"}]}`, `"<b>&</b>"`, "  [ ]  ", `{"k":"\u2028"}`,
		`{"s":"sep` + "\u2028" + `"}`, "3.50", "true"}
	badRaw     = "{"
	fillFloats = []float64{0, 1, 0.5, 1.0 / 3, 123456.789, 1e-7, 2.5e-9, 1e20, 1e21, 3e22, -0.25, 1e-6}
	timeType   = reflect.TypeFor[time.Time]()
	rawType    = reflect.TypeFor[json.RawMessage]()
)

func (f *jsonFiller) fill(v reflect.Value, path string) {
	switch {
	case v.Type() == timeType:
		f.fillTime(v)
		return
	case v.Type() == rawType:
		if f.r.IntN(200) == 0 {
			v.SetBytes([]byte(badRaw))
		} else if s := fillRaw[f.r.IntN(len(fillRaw))]; s != "" {
			v.SetBytes([]byte(s))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if f.r.IntN(3) == 0 {
			return // nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			f.fill(v.Field(i), path+"."+v.Type().Field(i).Name)
		}
	case reflect.String:
		if f.r.IntN(4) == 0 {
			b := make([]byte, f.r.IntN(12))
			for i := range b {
				b[i] = byte(f.r.IntN(256))
			}
			v.SetString(string(b))
		} else {
			v.SetString(fillStrings[f.r.IntN(len(fillStrings))])
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(f.r.Int64N(1<<40) - 1<<39)
	case reflect.Float64:
		if f.r.IntN(300) == 0 {
			v.SetFloat(math.NaN()) // encoding/json refuses it
			return
		}
		v.SetFloat(fillFloats[f.r.IntN(len(fillFloats))] * (1 + float64(f.r.IntN(3))/7))
	case reflect.Map:
		if f.r.IntN(4) == 0 {
			return // nil
		}
		m := reflect.MakeMap(v.Type())
		for range f.r.IntN(4) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k, path+"[key]")
			f.fill(e, path+"[]")
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Slice:
		if f.r.IntN(4) == 0 {
			return // nil
		}
		n := f.r.IntN(4)
		sl := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			f.fill(sl.Index(i), path+"[]")
		}
		v.Set(sl)
	case reflect.Bool:
		v.SetBool(f.r.IntN(2) == 0)
	default:
		f.t.Fatalf("%s: no filler for %s (teach jsonFiller and appendExecution)", path, v.Type())
	}
}

func (f *jsonFiller) fillTime(v reflect.Value) {
	t := time.Unix(f.r.Int64N(4e9), 0).UTC()
	switch f.r.IntN(6) {
	case 0: // whole seconds
	case 1:
		t = t.Add(time.Duration(f.r.IntN(1e9)))
	case 2:
		t = t.Add(time.Duration(f.r.IntN(1000)) * time.Millisecond) // trailing zeros dropped
	case 3:
		t = t.In(time.FixedZone("", 5*3600+30*60)).Add(time.Microsecond * time.Duration(f.r.IntN(1e6)))
	case 4:
		if f.r.IntN(20) == 0 {
			t = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
		} else if f.r.IntN(20) == 0 {
			t = t.In(time.FixedZone("", 24*3600)) // so does an offset of 24 h
		}
	case 5:
		t = time.Time{}
	}
	v.Set(reflect.ValueOf(t))
}

// TestGeneratedJSONMatchesEncodingJSON holds the hand-written encoders of
// the generated types (apigen's AppendJSON) to encoding/json's bytes and
// errors, for random values of every field.
func TestGeneratedJSONMatchesEncodingJSON(t *testing.T) {
	f := &jsonFiller{t: t, r: rand.New(rand.NewPCG(1, 2))}
	failures := 0
	check := func(i int, v any, appendTo func([]byte) ([]byte, error)) {
		t.Helper()
		var want bytes.Buffer
		wantErr := json.NewEncoder(&want).Encode(v)
		got, gotErr := appendTo(nil)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("case %d: encoding/json error %v, AppendJSON error %v\n%#v", i, wantErr, gotErr, v)
		}
		if wantErr != nil {
			failures++
			return
		}
		require.Equal(t, want.String(), string(got)+"\n", "case %d", i)
	}
	for i := range 2000 {
		var e apigen.Execution
		f.fill(reflect.ValueOf(&e).Elem(), "Execution")
		check(i, e, e.AppendJSON)
		var c apigen.Cue
		f.fill(reflect.ValueOf(&c).Elem(), "Cue")
		check(i, c, c.AppendJSON)
		var d apigen.CueDetail
		f.fill(reflect.ValueOf(&d).Elem(), "CueDetail")
		check(i, d, d.AppendJSON)
		var cl apigen.CueList
		f.fill(reflect.ValueOf(&cl).Elem(), "CueList")
		check(i, cl, cl.AppendJSON)
		var el apigen.ExecutionList
		f.fill(reflect.ValueOf(&el).Elem(), "ExecutionList")
		check(i, el, el.AppendJSON)
	}
	require.Positive(t, failures, "the filler never produced a value encoding/json refuses")
}

// sameAnswer requires two responses to write the same status, headers and
// body, or both to fail.
func sameAnswer(t *testing.T, want, got func(http.ResponseWriter) error) {
	t.Helper()
	w, g := httptest.NewRecorder(), httptest.NewRecorder()
	wantErr, gotErr := want(w), got(g)
	require.Equal(t, wantErr != nil, gotErr != nil, "%v / %v", wantErr, gotErr)
	if wantErr != nil {
		return
	}
	require.Equal(t, w.Code, g.Code)
	require.Equal(t, w.Header(), g.Header())
	require.Equal(t, w.Body.String(), g.Body.String())
}

// TestResponsesWriteAsGenerated: the hand-written answers write what the
// generated GetExecution200JSONResponse, GetCue200JSONResponse,
// ListCues200JSONResponse and ListExecutions200JSONResponse write.
func TestResponsesWriteAsGenerated(t *testing.T) {
	f := &jsonFiller{t: t, r: rand.New(rand.NewPCG(3, 4))}
	for range 200 {
		var e apigen.Execution
		f.fill(reflect.ValueOf(&e).Elem(), "Execution")
		er := executionResponse(e)
		sameAnswer(t, apigen.GetExecution200JSONResponse(e).VisitGetExecutionResponse, er.VisitGetExecutionResponse)

		var d apigen.CueDetail
		f.fill(reflect.ValueOf(&d).Elem(), "CueDetail")
		dr := cueDetailResponse(d)
		sameAnswer(t, apigen.GetCue200JSONResponse(d).VisitGetCueResponse, dr.VisitGetCueResponse)

		var cl apigen.CueList
		f.fill(reflect.ValueOf(&cl).Elem(), "CueList")
		clr := cueListResponse(cl)
		sameAnswer(t, apigen.ListCues200JSONResponse(cl).VisitListCuesResponse, clr.VisitListCuesResponse)

		var el apigen.ExecutionList
		f.fill(reflect.ValueOf(&el).Elem(), "ExecutionList")
		elr := executionListResponse(el)
		sameAnswer(t, apigen.ListExecutions200JSONResponse(el).VisitListExecutionsResponse, elr.VisitListExecutionsResponse)
	}
}
