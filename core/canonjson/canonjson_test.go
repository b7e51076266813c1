package canonjson_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core/canonjson"
)

// The expected strings and sizes below were produced by CPython 3's json
// module: json.dumps(json.loads(in), sort_keys=True), len(json.dumps(obj))
// and len(json.dumps(obj, ensure_ascii=False).encode()).
func TestCanonicalVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          string
		want        string
		defaultSize int
		payloadSize int // -1: ErrLoneSurrogate
	}{
		{name: "spec example", in: `{"b": 1, "a": [1.0, "é"]}`, want: `{"a": [1.0, "\u00e9"], "b": 1}`, defaultSize: 30, payloadSize: 26},
		{name: "raw emoji", in: `"😀"`, want: `"\ud83d\ude00"`, defaultSize: 14, payloadSize: 6},
		{name: "escaped pair", in: `"\ud83d\ude00"`, want: `"\ud83d\ude00"`, defaultSize: 14, payloadSize: 6},
		{name: "upper-case escaped pair", in: `"\uD83D\uDE00"`, want: `"\ud83d\ude00"`, defaultSize: 14, payloadSize: 6},
		{name: "float 1.0", in: `1.0`, want: `1.0`, defaultSize: 3, payloadSize: 3},
		{name: "float 1e5", in: `1e5`, want: `100000.0`, defaultSize: 8, payloadSize: 8},
		{name: "float 100000.0", in: `100000.0`, want: `100000.0`, defaultSize: 8, payloadSize: 8},
		{name: "float 0.0001", in: `0.0001`, want: `0.0001`, defaultSize: 6, payloadSize: 6},
		{name: "float 0.00001", in: `0.00001`, want: `1e-05`, defaultSize: 5, payloadSize: 5},
		{name: "float 2.5e-05", in: `2.5e-05`, want: `2.5e-05`, defaultSize: 7, payloadSize: 7},
		{name: "float 1e16", in: `1e16`, want: `1e+16`, defaultSize: 5, payloadSize: 5},
		{name: "float 1e15", in: `1e15`, want: `1000000000000000.0`, defaultSize: 18, payloadSize: 18},
		{name: "float max", in: `1.7976931348623157e+308`, want: `1.7976931348623157e+308`, defaultSize: 23, payloadSize: 23},
		{name: "float 123456789.123", in: `123456789.123`, want: `123456789.123`, defaultSize: 13, payloadSize: 13},
		{name: "float negative zero", in: `-0.0`, want: `-0.0`, defaultSize: 4, payloadSize: 4},
		{name: "float 0.1", in: `0.1`, want: `0.1`, defaultSize: 3, payloadSize: 3},
		{name: "float 1e22", in: `1e22`, want: `1e+22`, defaultSize: 5, payloadSize: 5},
		{name: "float min subnormal", in: `5e-324`, want: `5e-324`, defaultSize: 6, payloadSize: 6},
		{name: "float 1E2", in: `1E2`, want: `100.0`, defaultSize: 5, payloadSize: 5},
		{name: "float 1.50", in: `1.50`, want: `1.5`, defaultSize: 3, payloadSize: 3},
		{name: "float underflow", in: `1e-400`, want: `0.0`, defaultSize: 3, payloadSize: 3},
		{name: "float negative underflow", in: `-1e-400`, want: `-0.0`, defaultSize: 4, payloadSize: 4},
		{name: "float 1e-7", in: `1e-7`, want: `1e-07`, defaultSize: 5, payloadSize: 5},
		{name: "float 123e-20", in: `123e-20`, want: `1.23e-18`, defaultSize: 8, payloadSize: 8},
		{name: "float rounding", in: `9007199254740993.0`, want: `9007199254740992.0`, defaultSize: 18, payloadSize: 18},
		{name: "float -1.5e300", in: `-1.5e300`, want: `-1.5e+300`, defaultSize: 9, payloadSize: 9},
		{name: "big int", in: `123456789012345678901234567890`, want: `123456789012345678901234567890`, defaultSize: 30, payloadSize: 30},
		{name: "big negative int", in: `-123456789012345678901234567890`, want: `-123456789012345678901234567890`, defaultSize: 31, payloadSize: 31},
		{name: "int negative zero", in: `-0`, want: `0`, defaultSize: 1, payloadSize: 1},
		{name: "int zero", in: `0`, want: `0`, defaultSize: 1, payloadSize: 1},
		{name: "empty object", in: `{}`, want: `{}`, defaultSize: 2, payloadSize: 2},
		{name: "empty array", in: `[]`, want: `[]`, defaultSize: 2, payloadSize: 2},
		{name: "nested empties", in: `{"a":{},"b":[],"c":[{}]}`, want: `{"a": {}, "b": [], "c": [{}]}`, defaultSize: 29, payloadSize: 29},
		{name: "control chars and short escapes", in: `"\u0000\u0001\u001f\b\f\n\r\t\"\\\/x"`, want: `"\u0000\u0001\u001f\b\f\n\r\t\"\\/x"`, defaultSize: 36, payloadSize: 36},
		{name: "DEL", in: `"\u007f"`, want: `"\u007f"`, defaultSize: 8, payloadSize: 3},
		{name: "raw DEL", in: "\"\x7f\"", want: `"\u007f"`, defaultSize: 8, payloadSize: 3},
		{name: "slash", in: `"a/b"`, want: `"a/b"`, defaultSize: 5, payloadSize: 5},
		{name: "line separator and html", in: `"\u2028<>&"`, want: `"\u2028<>&"`, defaultSize: 11, payloadSize: 8},
		{name: "duplicate key", in: `{"a":1,"a":2}`, want: `{"a": 2}`, defaultSize: 8, payloadSize: 8},
		{name: "duplicate key keeps last", in: `{"b":1,"a":2,"b":3}`, want: `{"a": 2, "b": 3}`, defaultSize: 16, payloadSize: 16},
		{name: "lone high surrogate", in: `"\ud800"`, want: `"\ud800"`, defaultSize: 8, payloadSize: -1},
		{name: "lone low surrogate", in: `"\udc00x"`, want: `"\udc00x"`, defaultSize: 9, payloadSize: -1},
		{name: "high surrogate then ascii", in: `"\ud83dA"`, want: `"\ud83dA"`, defaultSize: 9, payloadSize: -1},
		{name: "code point order astral after private use", in: `{"\ue000":1,"😀":2,"z":3,"é":4}`, want: `{"z": 3, "\u00e9": 4, "\ue000": 1, "\ud83d\ude00": 2}`, defaultSize: 53, payloadSize: 38},
		{name: "whitespace and literals", in: " [1 , true,false , null ] ", want: `[1, true, false, null]`, defaultSize: 22, payloadSize: 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := canonjson.Canonical([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))

			n, err := canonjson.PythonDefaultSize([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.defaultSize, n)

			n, err = canonjson.PayloadSize([]byte(tt.in))
			if tt.payloadSize < 0 {
				require.ErrorIs(t, err, canonjson.ErrLoneSurrogate)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.payloadSize, n)
		})
	}
}

func TestCanonicalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want error
	}{
		{name: "empty", in: ``, want: canonjson.ErrInvalidJSON},
		{name: "trailing data", in: `{} {}`, want: canonjson.ErrInvalidJSON},
		{name: "trailing comma", in: `[1,]`, want: canonjson.ErrInvalidJSON},
		{name: "single quotes", in: `{'a':1}`, want: canonjson.ErrInvalidJSON},
		{name: "NaN", in: `NaN`, want: canonjson.ErrInvalidJSON},
		{name: "Infinity", in: `Infinity`, want: canonjson.ErrInvalidJSON},
		{name: "leading zero", in: `01`, want: canonjson.ErrInvalidJSON},
		{name: "bare fraction", in: `1.`, want: canonjson.ErrInvalidJSON},
		{name: "plus sign", in: `+1`, want: canonjson.ErrInvalidJSON},
		{name: "raw control char", in: "\"a\nb\"", want: canonjson.ErrInvalidJSON},
		{name: "bad escape", in: `"\x"`, want: canonjson.ErrInvalidJSON},
		{name: "short unicode escape", in: `"\u12"`, want: canonjson.ErrInvalidJSON},
		{name: "unterminated string", in: `"abc`, want: canonjson.ErrInvalidJSON},
		{name: "byte order mark", in: "\xef\xbb\xbf{}", want: canonjson.ErrInvalidJSON},
		{name: "invalid UTF-8", in: "\"\xff\"", want: canonjson.ErrInvalidUTF8},
		{name: "UTF-8 encoded surrogate", in: "\"\xed\xa0\x80\"", want: canonjson.ErrInvalidUTF8},
		{name: "overflow", in: `1E400`, want: canonjson.ErrNonFinite},
		{name: "negative overflow", in: `[-1e309]`, want: canonjson.ErrNonFinite},
		{name: "too deep", in: strings.Repeat("[", canonjson.MaxDepth+1) + strings.Repeat("]", canonjson.MaxDepth+1), want: canonjson.ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := canonjson.Canonical([]byte(tt.in))
			require.ErrorIs(t, err, tt.want)
			_, err = canonjson.PythonDefaultSize([]byte(tt.in))
			require.ErrorIs(t, err, tt.want)
			_, err = canonjson.PayloadSize([]byte(tt.in))
			require.ErrorIs(t, err, tt.want)
			_, err = canonjson.ContainsNUL([]byte(tt.in))
			require.ErrorIs(t, err, tt.want)
			_, err = canonjson.Compact([]byte(tt.in))
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestCanonicalMaxDepthAccepted(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("[", canonjson.MaxDepth) + strings.Repeat("]", canonjson.MaxDepth)
	got, err := canonjson.Canonical([]byte(in))
	require.NoError(t, err)
	require.Equal(t, in, string(got))
}

func TestSizeBoundaries(t *testing.T) {
	t.Parallel()
	zeros := func(n int) string { return `{"a":[` + strings.TrimSuffix(strings.Repeat("0,", n), ",") + `]}` }
	tests := []struct {
		name    string
		in      string
		measure func([]byte) (int, error)
		want    int
	}{
		// security.md §6.4: {"k": "x"*10231} measures 10,240.
		{name: "metadata at limit", in: `{"k":"` + strings.Repeat("x", 10231) + `"}`, measure: canonjson.PythonDefaultSize, want: 10240},
		{name: "metadata over limit", in: `{"k":"` + strings.Repeat("x", 10232) + `"}`, measure: canonjson.PythonDefaultSize, want: 10241},
		{name: "metadata non-ASCII is six bytes per unit", in: `{"k":"é😀"}`, measure: canonjson.PythonDefaultSize, want: 9 + 18},
		// security.md §6.3: one array of n zeros measures 3n + 7.
		{name: "payload at limit", in: zeros(349523), measure: canonjson.PayloadSize, want: 1048576},
		{name: "payload over limit", in: zeros(349524), measure: canonjson.PayloadSize, want: 1048579},
		{name: "payload non-ASCII raw", in: `{"k":"é😀"}`, measure: canonjson.PayloadSize, want: 9 + 2 + 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := tt.measure([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, n)
		})
	}
}

func TestContainsNUL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "none", in: `{"a":["b",1,null]}`, want: false},
		{name: "escaped in value", in: `{"a":"x\u0000y"}`, want: true},
		{name: "escaped in key", in: `{"a\u0000":1}`, want: true},
		{name: "deep in array", in: `[[[{"a":["\u0000"]}]]]`, want: true},
		{name: "escaped backslash then u0000 text", in: `"\\u0000"`, want: false},
		{name: "top-level string", in: `"\u0000"`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := canonjson.ContainsNUL([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestContainsLoneSurrogate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "pair", in: `"\ud83d\ude00"`, want: false},
		{name: "raw astral", in: `"😀"`, want: false},
		{name: "lone high", in: `{"a":"\ud83d"}`, want: true},
		{name: "lone low in key", in: `{"\ude00":1}`, want: true},
		{name: "reversed pair", in: `"\ude00\ud83d"`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := canonjson.ContainsLoneSurrogate([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCompact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "keeps order and spelling", in: "{ \"b\" : 1.50 ,\n \"a\" : [ 1e5 ] }", want: `{"b":1.50,"a":[1e5]}`},
		{name: "keeps escapes", in: `[ "\u00e9", "é" ]`, want: `["\u00e9","é"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := canonjson.Compact([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}

func TestFormatFloat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   float64
		want string
	}{
		{name: "one", in: 1, want: "1.0"},
		{name: "exponent 15", in: 1e15, want: "1000000000000000.0"},
		{name: "exponent 16", in: 1e16, want: "1e+16"},
		{name: "exponent -4", in: 0.0001, want: "0.0001"},
		{name: "exponent -5", in: 0.00001, want: "1e-05"},
		{name: "exponent 100", in: 1.5e100, want: "1.5e+100"},
		{name: "negative", in: -2.5, want: "-2.5"},
		{name: "third", in: 1.0 / 3, want: "0.3333333333333333"},
		{name: "infinity", in: math.Inf(1), want: "inf"},
		{name: "nan", in: math.NaN(), want: "nan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, canonjson.FormatFloat(tt.in))
		})
	}
}

func FuzzCanonical(f *testing.F) {
	seeds := []string{
		`{"b": 1, "a": [1.0, "é"]}`, `"😀"`, `"\ud800"`, `"\ud83d\ude00"`, `1e5`, `-0`, `-0.0`, `5e-324`,
		`123456789012345678901234567890`, `{"a":1,"a":2}`, `[{}, [], "\u007f/\u0000"]`, `1E400`, "\"\xff\"",
		`{"\ue000":1,"😀":2}`, `[0.1, 1e22, 1e-7, 2.5e-05]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		out, err := canonjson.Canonical(in)
		if err != nil {
			// json.Valid does not check UTF-8 or number range.
			if !errors.Is(err, canonjson.ErrInvalidUTF8) && !errors.Is(err, canonjson.ErrNonFinite) {
				t.Fatalf("Canonical(%q): %v", in, err)
			}
			return
		}
		again, err := canonjson.Canonical(out)
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
		for _, c := range out {
			if c >= 0x80 {
				t.Fatalf("non-ASCII output %q", out)
			}
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
		if !semanticEqual(t, decode(t, in), decode(t, out)) {
			t.Fatalf("meaning changed: %q -> %q", in, out)
		}
		if _, err := canonjson.PythonDefaultSize(in); err != nil {
			t.Fatalf("PythonDefaultSize: %v", err)
		}
		if _, err := canonjson.PayloadSize(in); err != nil && !errors.Is(err, canonjson.ErrLoneSurrogate) {
			t.Fatalf("PayloadSize: %v", err)
		}
	})
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

// semanticEqual compares decoded values, integers exactly and floats as
// doubles.
func semanticEqual(t *testing.T, a, b any) bool {
	t.Helper()
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		aInt := !strings.ContainsAny(string(a), ".eE")
		if aInt != !strings.ContainsAny(string(b), ".eE") {
			return false
		}
		if aInt {
			x, _ := new(big.Int).SetString(string(a), 10)
			y, _ := new(big.Int).SetString(string(b), 10)
			return x != nil && y != nil && x.Cmp(y) == 0
		}
		x, _ := strconv.ParseFloat(string(a), 64)
		y, _ := strconv.ParseFloat(string(b), 64)
		return x == y && math.Signbit(x) == math.Signbit(y)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !semanticEqual(t, a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !semanticEqual(t, v, w) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a, b)
	}
}

func TestSortedCompact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"b": [1, 2.50, {"d": null, "c": true}], "a": "héllo ✓"}`, `{"a":"héllo ✓","b":[1,2.5,{"c":true,"d":null}]}`},
		{` "x\u00e9\n" `, `"xé\n"`},
		{`[]`, `[]`},
		{`1e2`, `100.0`},
	} {
		got, err := canonjson.SortedCompact([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("SortedCompact(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	if _, err := canonjson.SortedCompact([]byte(`{"a":"\ud800"}`)); !errors.Is(err, canonjson.ErrLoneSurrogate) {
		t.Errorf("lone surrogate: %v", err)
	}
}
