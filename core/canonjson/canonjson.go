// Package canonjson reproduces the byte layouts of Python's json.dumps that
// the reference implementation uses on the wire and for size limits
// (api.md §6.2, security.md Appendix A):
//
//   - Canonical: json.dumps(obj, sort_keys=True) — the signed webhook body;
//   - PythonDefaultSize: len(json.dumps(obj)) — the outcome-metadata limit;
//   - PayloadSize: len(json.dumps(obj, ensure_ascii=False).encode()) — the
//     cue-payload limit.
//
// All variants use the separators ", " and ": ", print integers of any size
// exactly and floats like Python's repr. Input is parsed by a small tokenizer
// that keeps number literals and lone UTF-16 surrogate escapes, so nothing
// is routed through float64 or lost to U+FFFD replacement. The package also
// holds the webhook signature (Sign, Verify) computed over the canonical
// body. It uses the standard library only.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors returned for input that the encoders refuse. They are wrapped with
// the byte offset; match them with errors.Is.
var (
	// ErrInvalidJSON is returned for input that is not one JSON value.
	ErrInvalidJSON = errors.New("canonjson: invalid JSON")
	// ErrInvalidUTF8 is returned when the input bytes are not UTF-8.
	ErrInvalidUTF8 = errors.New("canonjson: invalid UTF-8")
	// ErrNonFinite is returned for a number literal that overflows a double
	// (Python would write Infinity, which is not JSON).
	ErrNonFinite = errors.New("canonjson: number overflows to infinity")
	// ErrTooDeep is returned when arrays and objects nest deeper than
	// MaxDepth.
	ErrTooDeep = errors.New("canonjson: nesting too deep")
	// ErrLoneSurrogate is returned by PayloadSize when a string holds an
	// unpaired UTF-16 surrogate escape such as "\ud800": it has no UTF-8
	// form (the reference fails there with a 500; security.md §6.2 asks
	// for a 400).
	ErrLoneSurrogate = errors.New("canonjson: unpaired surrogate escape")
)

// MaxDepth is the deepest nesting of arrays and objects accepted, the same
// bound as encoding/json's.
const MaxDepth = 10000

// Canonical parses raw (one JSON value, surrounding whitespace allowed) and
// returns exactly what Python's json.dumps(obj, sort_keys=True) writes for
// it: keys sorted by code point at every level, ", " and ": " separators,
// ASCII-only strings with lower-case \uXXXX escapes (surrogate pairs above
// U+FFFF, "/" unescaped, DEL as \u007f), integers verbatim, floats in
// Python repr form. A duplicate key keeps its last value. Lone surrogate
// escapes are written back as the same escape.
func Canonical(raw []byte) ([]byte, error) {
	v, _, err := parse(raw)
	if err != nil {
		return nil, err
	}
	e := encoder{sort: true, ascii: true, buf: make([]byte, 0, len(raw)+len(raw)/8+16)}
	if err := e.value(&v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// SortedCompact returns what Python's json.dumps(obj, sort_keys=True,
// separators=(",", ":"), ensure_ascii=False) writes for raw: keys sorted at
// every level, no spaces, non-ASCII characters (and DEL) raw, integers
// verbatim, floats in repr form. It is the layout hashed by the body
// verification echo (clients.md §2.6.5). A lone surrogate escape yields
// ErrLoneSurrogate.
func SortedCompact(raw []byte) ([]byte, error) {
	v, _, err := parse(raw)
	if err != nil {
		return nil, err
	}
	e := encoder{sort: true, compact: true, buf: make([]byte, 0, len(raw)+16)}
	if err := e.value(&v); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// PythonDefaultSize returns the length in bytes of Python's default
// json.dumps(obj): keys in input order (a duplicate key counted once, with
// its last value), ASCII escaping, ", " and ": " separators. It measures
// outcome metadata against the 10,240-byte limit (security.md §6.4).
func PythonDefaultSize(raw []byte) (int, error) {
	v, _, err := parse(raw)
	if err != nil {
		return 0, err
	}
	e := encoder{ascii: true, count: true}
	if err := e.value(&v); err != nil {
		return 0, err
	}
	return e.n, nil
}

// PayloadSize returns the UTF-8 length of Python's json.dumps(obj,
// ensure_ascii=False): like PythonDefaultSize but non-ASCII characters (and
// DEL) are kept raw. It measures cue payloads against the 1,048,576-byte
// limit (security.md §6.3). A lone surrogate escape yields ErrLoneSurrogate.
func PayloadSize(raw []byte) (int, error) {
	v, _, err := parse(raw)
	if err != nil {
		return 0, err
	}
	e := encoder{count: true}
	if err := e.value(&v); err != nil {
		return 0, err
	}
	return e.n, nil
}

// ContainsNUL reports whether any string or object key anywhere in raw
// holds U+0000, written raw or as the \u0000 escape (security.md §6.3).
func ContainsNUL(raw []byte) (bool, error) {
	_, info, err := parse(raw)
	if err != nil {
		return false, err
	}
	return info.nul, nil
}

// ContainsLoneSurrogate reports whether any string or key in raw holds an
// unpaired UTF-16 surrogate escape such as "\ud800", which security.md §6.2
// asks the API to reject as invalid JSON.
func ContainsLoneSurrogate(raw []byte) (bool, error) {
	_, info, err := parse(raw)
	if err != nil {
		return false, err
	}
	return info.loneSurrogate, nil
}

// Compact validates raw with the same rules as Canonical (UTF-8, finite
// numbers, depth) and returns it without insignificant whitespace, member
// order and number spellings unchanged, for storage.
func Compact(raw []byte) ([]byte, error) {
	if _, _, err := parse(raw); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(raw))
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	return b.Bytes(), nil
}

// kind is the type of a parsed value.
type kind uint8

const (
	kNull kind = iota
	kFalse
	kTrue
	kInt
	kFloat
	kString
	kArray
	kObject
)

// value is a parsed JSON value. Strings are held in WTF-8 (UTF-8 that may
// also encode lone surrogates as three-byte sequences), which keeps code
// point order under byte comparison.
type value struct {
	kind    kind
	s       string  // kString: text; kInt: decimal digits with sign
	f       float64 // kFloat
	items   []value
	members []member
}

// member is one object member.
type member struct {
	key string
	val value
}

// parseInfo collects facts noticed while parsing.
type parseInfo struct {
	nul           bool
	loneSurrogate bool
}

// parser is a recursive-descent JSON parser over a byte slice.
type parser struct {
	data  []byte
	src   string // data as a string: plain strings and numbers are slices of it
	pos   int
	depth int
	info  parseInfo
	sb    []byte   // scratch for strings with escapes
	items []value  // stack of array items being parsed
	mems  []member // stack of object members being parsed
}

func parse(raw []byte) (value, parseInfo, error) {
	p := parser{data: raw, src: string(raw)}
	p.skipWS()
	v, err := p.value()
	if err != nil {
		return value{}, parseInfo{}, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return value{}, parseInfo{}, p.errorf(ErrInvalidJSON, "trailing data")
	}
	return v, p.info, nil
}

func (p *parser) errorf(base error, format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", base, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) literal(word string, k kind) (value, error) {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		return value{}, p.errorf(ErrInvalidJSON, "invalid literal")
	}
	p.pos += len(word)
	return value{kind: k}, nil
}

func (p *parser) value() (value, error) {
	if p.pos >= len(p.data) {
		return value{}, p.errorf(ErrInvalidJSON, "unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		return value{kind: kString, s: s}, err
	case c == 't':
		return p.literal("true", kTrue)
	case c == 'f':
		return p.literal("false", kFalse)
	case c == 'n':
		return p.literal("null", kNull)
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	default:
		return value{}, p.errorf(ErrInvalidJSON, "unexpected character %q", c)
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(ErrTooDeep, "more than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) array() (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // [
	v := value{kind: kArray}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return v, nil
	}
	base := len(p.items)
	defer func() { p.items = p.items[:base] }()
	for {
		p.skipWS()
		item, err := p.value()
		if err != nil {
			return value{}, err
		}
		p.items = append(p.items, item)
		p.skipWS()
		if p.pos >= len(p.data) {
			return value{}, p.errorf(ErrInvalidJSON, "unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			v.items = slices.Clone(p.items[base:])
			return v, nil
		default:
			return value{}, p.errorf(ErrInvalidJSON, "expected ',' or ']'")
		}
	}
}

// object parses an object. A repeated key keeps the position of its first
// occurrence and the value of its last, like a Python dict.
func (p *parser) object() (value, error) {
	if err := p.enter(); err != nil {
		return value{}, err
	}
	p.pos++ // {
	v := value{kind: kObject}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return v, nil
	}
	base := len(p.mems)
	defer func() { p.mems = p.mems[:base] }()
	var index map[string]int // key → position in p.mems, for large objects
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return value{}, p.errorf(ErrInvalidJSON, "expected object key")
		}
		key, err := p.str()
		if err != nil {
			return value{}, err
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return value{}, p.errorf(ErrInvalidJSON, "expected ':'")
		}
		p.pos++
		p.skipWS()
		val, err := p.value()
		if err != nil {
			return value{}, err
		}
		p.addMember(base, &index, key, val)
		p.skipWS()
		if p.pos >= len(p.data) {
			return value{}, p.errorf(ErrInvalidJSON, "unterminated object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			v.members = slices.Clone(p.mems[base:])
			return v, nil
		default:
			return value{}, p.errorf(ErrInvalidJSON, "expected ',' or '}'")
		}
	}
}

// linearMembers is the object size up to which duplicate keys are found by
// scanning instead of through a map.
const linearMembers = 16

// addMember appends a member to the object whose members start at
// p.mems[base], or replaces the value of an earlier member with that key
// (which keeps its position), as a Python dict does.
func (p *parser) addMember(base int, index *map[string]int, key string, val value) {
	ms := p.mems[base:]
	if *index == nil && len(ms) < linearMembers {
		for i := range ms {
			if ms[i].key == key {
				ms[i].val = val
				return
			}
		}
		p.mems = append(p.mems, member{key: key, val: val})
		return
	}
	if *index == nil {
		*index = make(map[string]int, 2*len(ms))
		for i := range ms {
			(*index)[ms[i].key] = i
		}
	}
	if i, ok := (*index)[key]; ok {
		p.mems[base+i].val = val
		return
	}
	(*index)[key] = len(ms)
	p.mems = append(p.mems, member{key: key, val: val})
}

func (p *parser) number() (value, error) {
	start := p.pos
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(d) && d[p.pos] == '0':
		p.pos++
	case p.pos < len(d) && '1' <= d[p.pos] && d[p.pos] <= '9':
		for p.pos < len(d) && '0' <= d[p.pos] && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return value{}, p.errorf(ErrInvalidJSON, "invalid number")
	}
	isFloat := false
	if p.pos < len(d) && d[p.pos] == '.' {
		isFloat = true
		p.pos++
		if !p.digits() {
			return value{}, p.errorf(ErrInvalidJSON, "invalid number fraction")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		isFloat = true
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if !p.digits() {
			return value{}, p.errorf(ErrInvalidJSON, "invalid number exponent")
		}
	}
	lit := p.src[start:p.pos]
	if !isFloat {
		if lit == "-0" {
			lit = "0"
		}
		return value{kind: kInt, s: lit}, nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return value{}, p.errorf(ErrInvalidJSON, "invalid number %q", lit)
	}
	if math.IsInf(f, 0) {
		return value{}, p.errorf(ErrNonFinite, "%q", lit)
	}
	return value{kind: kFloat, f: f}, nil
}

func (p *parser) digits() bool {
	start := p.pos
	for p.pos < len(p.data) && '0' <= p.data[p.pos] && p.data[p.pos] <= '9' {
		p.pos++
	}
	return p.pos > start
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendWTF8 appends r in UTF-8, or for a surrogate code point the same
// three-byte pattern UTF-8 would use (WTF-8).
func appendWTF8(b []byte, r rune) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(b, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(b, r)
}

// str parses a string starting at the opening quote.
func (p *parser) str() (string, error) {
	p.pos++ // "
	d := p.data
	start := p.pos
	// Fast path: plain ASCII without escapes.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			break
		}
		p.pos++
	}
	b := append(p.sb[:0], d[start:p.pos]...)
	for {
		if p.pos >= len(d) {
			return "", p.errorf(ErrInvalidJSON, "unterminated string")
		}
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			p.sb = b
			return string(b), nil
		case c < 0x20:
			return "", p.errorf(ErrInvalidJSON, "control character in string")
		case c >= 0x80:
			r, size := utf8.DecodeRune(d[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return "", p.errorf(ErrInvalidUTF8, "invalid UTF-8 byte")
			}
			b = append(b, d[p.pos:p.pos+size]...)
			p.pos += size
		case c != '\\':
			b = append(b, c)
			p.pos++
		default:
			if p.pos+1 >= len(d) {
				return "", p.errorf(ErrInvalidJSON, "unterminated escape")
			}
			esc := d[p.pos+1]
			p.pos += 2
			switch esc {
			case '"', '\\', '/':
				b = append(b, esc)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d[p.pos:])
				if !ok {
					return "", p.errorf(ErrInvalidJSON, "invalid \\u escape")
				}
				p.pos += 4
				if r >= 0xD800 && r <= 0xDBFF && p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
					if r2, ok := hex4(d[p.pos+2:]); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
						r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
						p.pos += 6
					}
				}
				if r == 0 {
					p.info.nul = true
				}
				if r >= 0xD800 && r <= 0xDFFF {
					p.info.loneSurrogate = true
				}
				b = appendWTF8(b, r)
			default:
				return "", p.errorf(ErrInvalidJSON, "invalid escape")
			}
		}
	}
}

// encoder writes (or only measures) a value in one of Python's layouts.
type encoder struct {
	sort    bool // sort_keys=True
	ascii   bool // ensure_ascii=True
	compact bool // separators=(",", ":")
	count   bool // measure only: n counts the bytes, buf stays empty
	n       int
	buf     []byte
}

func (e *encoder) write(s string) {
	if e.count {
		e.n += len(s)
		return
	}
	e.buf = append(e.buf, s...)
}

func (e *encoder) writeByte(c byte) {
	if e.count {
		e.n++
		return
	}
	e.buf = append(e.buf, c)
}

func (e *encoder) value(v *value) error {
	switch v.kind {
	case kNull:
		e.write("null")
	case kFalse:
		e.write("false")
	case kTrue:
		e.write("true")
	case kInt:
		e.write(v.s)
	case kFloat:
		if e.count {
			e.n += len(FormatFloat(v.f))
		} else {
			e.buf = appendFloat(e.buf, v.f)
		}
	case kString:
		return e.str(v.s)
	case kArray:
		e.writeByte('[')
		for i := range v.items {
			if i > 0 {
				e.write(e.itemSep())
			}
			if err := e.value(&v.items[i]); err != nil {
				return err
			}
		}
		e.writeByte(']')
	case kObject:
		if e.sort {
			slices.SortFunc(v.members, func(a, b member) int { return strings.Compare(a.key, b.key) })
		}
		e.writeByte('{')
		for i := range v.members {
			if i > 0 {
				e.write(e.itemSep())
			}
			if err := e.str(v.members[i].key); err != nil {
				return err
			}
			e.write(e.keySep())
			if err := e.value(&v.members[i].val); err != nil {
				return err
			}
		}
		e.writeByte('}')
	}
	return nil
}

// itemSep and keySep are the separators of the layout.
func (e *encoder) itemSep() string {
	if e.compact {
		return ","
	}
	return ", "
}

func (e *encoder) keySep() string {
	if e.compact {
		return ":"
	}
	return ": "
}

const hexDigits = "0123456789abcdef"

func (e *encoder) escape(r rune) {
	if e.count {
		e.n += 6
		return
	}
	e.buf = append(e.buf, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// str writes a WTF-8 string with Python's escaping rules.
func (e *encoder) str(s string) error {
	e.writeByte('"')
	start := 0 // start of the pending run copied verbatim
	flush := func(i int) {
		if i > start {
			e.write(s[start:i])
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			var short string
			switch c {
			case '"':
				short = `\"`
			case '\\':
				short = `\\`
			case '\n':
				short = `\n`
			case '\r':
				short = `\r`
			case '\t':
				short = `\t`
			case '\b':
				short = `\b`
			case '\f':
				short = `\f`
			}
			switch {
			case short != "":
				flush(i)
				e.write(short)
				start = i + 1
			case c < 0x20 || (c == 0x7F && e.ascii):
				flush(i)
				e.escape(rune(c))
				start = i + 1
			}
			i++
			continue
		}
		// Lone surrogate in WTF-8: ED A0..BF xx.
		if c == 0xED && i+2 < len(s) && s[i+1] >= 0xA0 && s[i+1] <= 0xBF {
			if !e.ascii {
				return ErrLoneSurrogate
			}
			flush(i)
			e.escape(rune(c&0x0F)<<12 | rune(s[i+1]&0x3F)<<6 | rune(s[i+2]&0x3F))
			i += 3
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if e.ascii {
			flush(i)
			if r > 0xFFFF {
				r -= 0x10000
				e.escape(0xD800 + r>>10)
				e.escape(0xDC00 + r&0x3FF)
			} else {
				e.escape(r)
			}
			start = i + size
		}
		i += size
	}
	flush(len(s))
	e.writeByte('"')
	return nil
}

// FormatFloat formats f the way Python's repr does (and so json.dumps):
// shortest round-trip digits; positional with at least one fractional digit
// when the decimal exponent x satisfies -4 <= x < 16, otherwise d.ddde±XX.
// Non-finite values give Python's spellings (inf, -inf, nan).
func FormatFloat(f float64) string {
	return string(appendFloat(nil, f))
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "nan"...)
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	var scratch [32]byte
	s := strconv.AppendFloat(scratch[:0], f, 'e', -1, 64) // [-]d[.ddd]e±dd
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	ePos := bytes.IndexByte(s, 'e')
	mant, expPart := s[:ePos], s[ePos+1:]
	exp, _ := strconv.Atoi(string(expPart))
	var digs [24]byte
	digits := append(digs[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	if exp < -4 || exp >= 16 {
		b = append(b, digits[0])
		if len(digits) > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	}
	if exp < 0 {
		b = append(b, "0."...)
		for range -exp - 1 {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	intLen := exp + 1
	if len(digits) <= intLen {
		b = append(b, digits...)
		for range intLen - len(digits) {
			b = append(b, '0')
		}
		return append(b, ".0"...)
	}
	b = append(b, digits[:intLen]...)
	b = append(b, '.')
	return append(b, digits[intLen:]...)
}
