// Canonical JSON vectors shared with core/canonjson (canonjson_test.go): the
// TypeScript verifier must re-serialize exactly as the Go server signs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CanonicalJSONError, MAX_DEPTH, canonicalJSON } from "../src/canonical.js";

const vectors: Array<[string, string, string]> = [
  ["spec example", `{"b": 1, "a": [1.0, "é"]}`, `{"a": [1.0, "\\u00e9"], "b": 1}`],
  ["raw emoji", `"😀"`, `"\\ud83d\\ude00"`],
  ["escaped pair", `"\\ud83d\\ude00"`, `"\\ud83d\\ude00"`],
  ["upper-case escaped pair", `"\\uD83D\\uDE00"`, `"\\ud83d\\ude00"`],
  ["float 1.0", `1.0`, `1.0`],
  ["float 1e5", `1e5`, `100000.0`],
  ["float 0.0001", `0.0001`, `0.0001`],
  ["float 0.00001", `0.00001`, `1e-05`],
  ["float 2.5e-05", `2.5e-05`, `2.5e-05`],
  ["float 1e16", `1e16`, `1e+16`],
  ["float 1e15", `1e15`, `1000000000000000.0`],
  ["float max", `1.7976931348623157e+308`, `1.7976931348623157e+308`],
  ["float 123456789.123", `123456789.123`, `123456789.123`],
  ["float negative zero", `-0.0`, `-0.0`],
  ["float 0.1", `0.1`, `0.1`],
  ["float 1e22", `1e22`, `1e+22`],
  ["float min subnormal", `5e-324`, `5e-324`],
  ["float 1E2", `1E2`, `100.0`],
  ["float 1.50", `1.50`, `1.5`],
  ["float underflow", `1e-400`, `0.0`],
  ["float negative underflow", `-1e-400`, `-0.0`],
  ["float 1e-7", `1e-7`, `1e-07`],
  ["float 123e-20", `123e-20`, `1.23e-18`],
  ["float rounding", `9007199254740993.0`, `9007199254740992.0`],
  ["float -1.5e300", `-1.5e300`, `-1.5e+300`],
  ["third", `0.3333333333333333`, `0.3333333333333333`],
  ["big int", `123456789012345678901234567890`, `123456789012345678901234567890`],
  ["big negative int", `-123456789012345678901234567890`, `-123456789012345678901234567890`],
  ["int negative zero", `-0`, `0`],
  ["empty object", `{}`, `{}`],
  ["empty array", `[]`, `[]`],
  ["nested empties", `{"a":{},"b":[],"c":[{}]}`, `{"a": {}, "b": [], "c": [{}]}`],
  ["control chars and short escapes", `"\\u0000\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\\\/x"`, `"\\u0000\\u0001\\u001f\\b\\f\\n\\r\\t\\"\\\\/x"`],
  ["DEL", `"\\u007f"`, `"\\u007f"`],
  ["raw DEL", `"\x7f"`, `"\\u007f"`],
  ["line separator and html", `"\\u2028<>&"`, `"\\u2028<>&"`],
  ["duplicate key keeps last", `{"b":1,"a":2,"b":3}`, `{"a": 2, "b": 3}`],
  ["lone high surrogate", `"\\ud800"`, `"\\ud800"`],
  ["high surrogate then ascii", `"\\ud83dA"`, `"\\ud83dA"`],
  ["code point order astral after private use", `{"\\ue000":1,"😀":2,"z":3,"é":4}`, `{"z": 3, "\\u00e9": 4, "\\ue000": 1, "\\ud83d\\ude00": 2}`],
  ["whitespace and literals", ` [1 , true,false , null ] `, `[1, true, false, null]`],
];

for (const [name, input, want] of vectors) {
  test(`canonicalJSON: ${name}`, () => {
    assert.equal(canonicalJSON(input), want);
    assert.equal(canonicalJSON(new TextEncoder().encode(input)), want);
    assert.equal(canonicalJSON(want), want, "canonical form is a fixed point");
  });
}

const invalid: Array<[string, string | Uint8Array]> = [
  ["empty", ``],
  ["trailing data", `{} {}`],
  ["trailing comma", `[1,]`],
  ["single quotes", `{'a':1}`],
  ["NaN", `NaN`],
  ["Infinity", `Infinity`],
  ["leading zero", `01`],
  ["bare fraction", `1.`],
  ["plus sign", `+1`],
  ["raw control char", `"a\nb"`],
  ["bad escape", `"\\x"`],
  ["short unicode escape", `"\\u12"`],
  ["unterminated string", `"abc`],
  ["byte order mark", Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])],
  ["invalid UTF-8", Uint8Array.from([0x22, 0xff, 0x22])],
  ["UTF-8 encoded surrogate", Uint8Array.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
  ["overflow", `1E400`],
  ["negative overflow", `[-1e309]`],
  ["too deep", "[".repeat(MAX_DEPTH + 1) + "]".repeat(MAX_DEPTH + 1)],
  ["far too deep", "[".repeat(200_000) + "]".repeat(200_000)],
];

for (const [name, input] of invalid) {
  test(`canonicalJSON refuses: ${name}`, () => {
    assert.throws(() => canonicalJSON(input), CanonicalJSONError);
  });
}

test("canonicalJSON accepts the deepest allowed nesting", () => {
  const deep = "[".repeat(MAX_DEPTH) + "]".repeat(MAX_DEPTH);
  assert.equal(canonicalJSON(deep), deep);
});
