// Canonical JSON as the server signs it (api.md §6.2, core/canonjson): what
// Python's json.dumps(obj, sort_keys=True) writes. Keys sorted by code point
// at every level, ", " and ": " separators, ASCII-only strings with
// lower-case \uXXXX escapes, integers of any size verbatim, floats in Python
// repr form. Number literals are kept as text while parsing, so nothing is
// lost to JavaScript's doubles.

/** Thrown for input that is not one valid JSON value (or has no canonical form). */
export class CanonicalJSONError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CanonicalJSONError";
  }
}

// Deeper documents are refused (verifyWebhook still accepts such a body when
// its bytes match the signature as received).
export const MAX_DEPTH = 1_000;
const numberRe = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

type Value =
  | { k: "lit"; text: string }
  | { k: "num"; text: string }
  | { k: "str"; s: string }
  | { k: "arr"; items: Value[] }
  | { k: "obj"; members: Map<string, Value> };

class Parser {
  pos = 0;
  depth = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new CanonicalJSONError(`invalid JSON at offset ${this.pos}: ${what}`);
  }

  ws(): void {
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r") break;
      this.pos++;
    }
  }

  value(): Value {
    this.ws();
    const c = this.s[this.pos];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return { k: "str", s: this.string() };
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    for (const word of ["true", "false", "null"]) {
      if (this.s.startsWith(word, this.pos)) {
        this.pos += word.length;
        return { k: "lit", text: word };
      }
    }
    return this.fail("unexpected character");
  }

  /** Parses `[`/`{` … close, calling item for each element. */
  seq(close: "]" | "}", item: () => void): void {
    if (++this.depth > MAX_DEPTH) this.fail("nesting too deep");
    this.pos++;
    this.ws();
    if (this.s[this.pos] === close) {
      this.pos++;
    } else {
      for (;;) {
        item();
        this.ws();
        const c = this.s[this.pos++];
        if (c === close) break;
        if (c !== ",") this.fail(`expected , or ${close}`);
      }
    }
    this.depth--;
  }

  array(): Value {
    const items: Value[] = [];
    this.seq("]", () => items.push(this.value()));
    return { k: "arr", items };
  }

  object(): Value {
    const members = new Map<string, Value>();
    this.seq("}", () => {
      this.ws();
      if (this.s[this.pos] !== '"') this.fail("expected a key");
      const key = this.string();
      this.ws();
      if (this.s[this.pos++] !== ":") this.fail("expected :");
      members.set(key, this.value()); // a duplicate key keeps its last value, like a Python dict
    });
    return { k: "obj", members };
  }

  string(): string {
    this.pos++;
    let out = "";
    for (;;) {
      if (this.pos >= this.s.length) this.fail("unterminated string");
      const c = this.s.charCodeAt(this.pos++);
      if (c === 0x22) return out;
      if (c < 0x20) this.fail("control character in string");
      if (c !== 0x5c) {
        out += String.fromCharCode(c);
        continue;
      }
      const e = this.s[this.pos++];
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = this.s.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16)); // lone surrogates stay as they are
          this.pos += 4;
          break;
        }
        default:
          this.fail("bad escape");
      }
    }
  }

  number(): Value {
    numberRe.lastIndex = this.pos;
    const m = numberRe.exec(this.s);
    if (!m) return this.fail("bad number");
    this.pos += m[0].length;
    const d = this.s[this.pos];
    if (d !== undefined && /[0-9.eE+-]/.test(d)) this.fail("bad number");
    return { k: "num", text: m[0] };
  }
}

/** Python repr() of a finite double. */
export function pythonFloat(x: number): string {
  if (!Number.isFinite(x)) throw new CanonicalJSONError("number overflows to infinity");
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mant, expText] = Math.abs(x).toExponential().split("e"); // shortest round-trip digits
  const digits = mant.replace(".", "");
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    const frac = digits.slice(exp + 1) || "0";
    return `${sign}${intPart}.${frac}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp).toString().padStart(2, "0");
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${e}`;
}

function numberText(lit: string): string {
  if (/[.eE]/.test(lit)) return pythonFloat(Number(lit));
  return BigInt(lit).toString(); // "-0" becomes "0", as Python's int does
}

const shortEscapes: Record<number, string> = { 0x22: '\\"', 0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t", 0x08: "\\b", 0x0c: "\\f" };

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = shortEscapes[c];
    if (short !== undefined) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += "\\u" + c.toString(16).padStart(4, "0"); // UTF-16 code units: pairs above U+FFFF
  }
  return out + '"';
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function encode(v: Value): string {
  switch (v.k) {
    case "lit":
      return v.text;
    case "num":
      return numberText(v.text);
    case "str":
      return quote(v.s);
    case "arr":
      return `[${v.items.map(encode).join(", ")}]`;
    case "obj": {
      const keys = [...v.members.keys()].sort(compareCodePoints);
      return `{${keys.map((k) => `${quote(k)}: ${encode(v.members.get(k)!)}`).join(", ")}}`;
    }
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Returns the canonical form of one JSON document given as text or UTF-8 bytes. */
export function canonicalJSON(raw: string | Uint8Array): string {
  let text: string;
  if (typeof raw === "string") {
    text = raw;
  } else {
    try {
      text = utf8.decode(raw);
    } catch {
      throw new CanonicalJSONError("invalid UTF-8");
    }
  }
  const p = new Parser(text);
  try {
    const v = p.value();
    p.ws();
    if (p.pos !== text.length) p.fail("trailing data");
    return encode(v);
  } catch (e) {
    if (e instanceof RangeError) throw new CanonicalJSONError("nesting too deep"); // call stack exhausted
    throw e;
  }
}
