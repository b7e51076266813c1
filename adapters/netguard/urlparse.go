package netguard

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Parse failures, mapped to client messages by the Guard.
var (
	errInvalid = errors.New("invalid URL")
	errScheme  = errors.New("unsupported scheme")
	errNoHost  = errors.New("missing host")
)

// parsedURL is an http(s) URL parsed and serialized with the WHATWG URL
// Standard's rules for special schemes (https://url.spec.whatwg.org/), as the
// reference's parser does. Fields are filled in order, so after a failure
// the ones already parsed are set.
type parsedURL struct {
	scheme   string // "http" or "https"
	username string // percent-encoded
	password string // percent-encoded
	hostname string // domain (ASCII, lower case), dotted-quad, or IPv6 without brackets
	addr     netip.Addr
	port     string // "" when absent or the scheme's default
	path     string // always starts with "/"
	query    *string
	fragment *string
}

// host returns the host as written in the URL (IPv6 in brackets).
func (u *parsedURL) host() string {
	if u.addr.Is6() {
		return "[" + u.hostname + "]"
	}
	return u.hostname
}

// hasCredentials reports whether the URL carries a username or password.
func (u *parsedURL) hasCredentials() bool { return u.username != "" || u.password != "" }

// String serializes the URL.
func (u *parsedURL) String() string {
	var b strings.Builder
	b.WriteString(u.scheme)
	b.WriteString("://")
	if u.hasCredentials() {
		b.WriteString(u.username)
		if u.password != "" {
			b.WriteByte(':')
			b.WriteString(u.password)
		}
		b.WriteByte('@')
	}
	b.WriteString(u.host())
	if u.port != "" {
		b.WriteByte(':')
		b.WriteString(u.port)
	}
	b.WriteString(u.path)
	if u.query != nil {
		b.WriteByte('?')
		b.WriteString(*u.query)
	}
	if u.fragment != nil {
		b.WriteByte('#')
		b.WriteString(*u.fragment)
	}
	return b.String()
}

// parseURL parses an absolute http or https URL. Deviations from the WHATWG
// parser, all toward stricter or safer output: a "%" not followed by two hex
// digits is written "%25" (Go's net/url rejects it), a domain may only hold
// a-z, 0-9, "-", "_" and "." after IDNA mapping (anything else cannot be
// resolved and would not survive net/url), and input that is not valid
// UTF-8 is refused.
func parseURL(input string) (*parsedURL, error) {
	u := &parsedURL{}
	if !utf8.ValidString(input) {
		return u, errInvalid
	}
	input = strings.TrimFunc(input, func(r rune) bool { return r <= 0x20 })
	if strings.ContainsAny(input, "\t\n\r") {
		input = strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return -1
			}
			return r
		}, input)
	}

	// Scheme.
	colon := strings.IndexByte(input, ':')
	if colon <= 0 || !isAlpha(input[0]) {
		return u, errInvalid
	}
	for i := 1; i < colon; i++ {
		if c := input[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return u, errInvalid
		}
	}
	scheme := strings.ToLower(input[:colon])
	if scheme != "http" && scheme != "https" {
		return u, errScheme
	}
	u.scheme = scheme
	rest := strings.TrimLeft(input[colon+1:], `/\`)

	// Authority.
	end := strings.IndexAny(rest, `/\?#`)
	if end < 0 {
		end = len(rest)
	}
	authority, rest := rest[:end], rest[end:]
	hostPort := authority
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		creds := authority[:at]
		hostPort = authority[at+1:]
		user, pass, _ := strings.Cut(creds, ":")
		u.username = percentEncode(user, userinfoSet)
		u.password = percentEncode(pass, userinfoSet)
	}
	hostStr, portStr, hasPort := splitHostPort(hostPort)
	if hostStr == "" {
		return u, errNoHost
	}
	if hasPort {
		port, err := parsePort(portStr, scheme)
		if err != nil {
			return u, err
		}
		u.port = port
	}
	hostname, addr, err := parseHost(hostStr)
	if err != nil {
		return u, err
	}
	u.hostname, u.addr = hostname, addr

	// Path, query, fragment.
	path, fragment, hasFragment := strings.Cut(rest, "#")
	path, query, hasQuery := strings.Cut(path, "?")
	u.path = parsePath(path)
	if hasQuery {
		q := percentEncode(query, specialQuerySet)
		u.query = &q
	}
	if hasFragment {
		f := percentEncode(fragment, fragmentSet)
		u.fragment = &f
	}
	return u, nil
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// splitHostPort splits at the first ":" outside brackets.
func splitHostPort(s string) (host, port string, hasPort bool) {
	inBrackets := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			inBrackets = true
		case ']':
			inBrackets = false
		case ':':
			if !inBrackets {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// parsePort validates a port; the scheme's default port and an empty port
// come back as "".
func parsePort(s, scheme string) (string, error) {
	if s == "" {
		return "", nil
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return "", errInvalid
		}
	}
	s = strings.TrimLeft(s, "0")
	if s == "" {
		s = "0"
	}
	if len(s) > 5 {
		return "", errInvalid
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 {
		return "", errInvalid
	}
	if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
		return "", nil
	}
	return strconv.Itoa(n), nil
}

// lookupProfile is UTS #46 processing as the WHATWG "domain to ASCII" asks
// for it: non-transitional, CheckBidi, CheckJoiners, no STD3 rules, no
// hyphen or DNS length checks.
var lookupProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
	idna.CheckJoiners(true),
	idna.BidiRule(),
	idna.VerifyDNSLength(false),
)

// parseHost parses the host of a special URL: a bracketed IPv6 literal, or a
// percent-decoded, IDNA-mapped domain that may turn out to be an IPv4
// address in any WHATWG spelling. It returns the serialized hostname
// (IPv6 without brackets) and, for IP literals, the address.
func parseHost(s string) (string, netip.Addr, error) {
	if strings.HasPrefix(s, "[") {
		if len(s) < 2 || !strings.HasSuffix(s, "]") {
			return "", netip.Addr{}, errInvalid
		}
		a, err := parseIPv6(s[1 : len(s)-1])
		if err != nil {
			return "", netip.Addr{}, err
		}
		return serializeIPv6(a), a, nil
	}
	decoded := percentDecode(s)
	if !utf8.ValidString(decoded) {
		return "", netip.Addr{}, errInvalid
	}
	domain, err := domainToASCII(decoded)
	if err != nil {
		return "", netip.Addr{}, err
	}
	for i := 0; i < len(domain); i++ {
		c := domain[i]
		if !('a' <= c && c <= 'z') && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return "", netip.Addr{}, errInvalid
		}
	}
	if endsInNumber(domain) {
		a, ok := parseIPv4(domain)
		if !ok {
			return "", netip.Addr{}, errInvalid
		}
		return a.String(), a, nil
	}
	return domain, netip.Addr{}, nil
}

func domainToASCII(s string) (string, error) {
	lower := strings.ToLower(s)
	if isASCII(s) && !strings.HasPrefix(lower, "xn--") && !strings.Contains(lower, ".xn--") {
		return lower, nil
	}
	out, err := lookupProfile.ToASCII(s)
	if err != nil || out == "" {
		return "", errInvalid
	}
	// x/net/idna turns an "xn--" label with nothing after the prefix into an
	// empty label where UTS #46 fails; refuse any label that came out empty
	// without being empty on input.
	labels := strings.Split(out, ".")
	rawLabels := strings.Split(strings.Map(func(r rune) rune {
		if isLabelSeparator(r) {
			return '.'
		}
		return r
	}, s), ".")
	if len(rawLabels) != len(labels) {
		return "", errInvalid
	}
	for i, l := range labels {
		if l == "" && rawLabels[i] != "" {
			return "", errInvalid
		}
		// A Punycode label must be ASCII on input.
		if raw := strings.ToLower(rawLabels[i]); strings.HasPrefix(raw, "xn--") && !isASCII(raw) {
			return "", errInvalid
		}
	}
	out = strings.ToLower(out)
	// The canonical form must canonicalize to itself (a stored URL is parsed
	// again at delivery), and fit DNS length limits (no resolver would take
	// a longer name anyway). Regression: FuzzCanonicalize found a long
	// Unicode label whose Punycode form did not parse again.
	if again, err := lookupProfile.ToASCII(out); err != nil || strings.ToLower(again) != out || !dnsLengthOK(out) {
		return "", errInvalid
	}
	return out, nil
}

// dnsLengthOK reports whether a name fits DNS limits: labels of at most 63
// octets, at most 253 octets in all (a trailing dot not counted).
func dnsLengthOK(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if len(l) > 63 {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isLabelSeparator reports the characters UTS #46 maps to a label
// separator.
func isLabelSeparator(r rune) bool {
	return r == '.' || r == '\u3002' || r == '\uFF0E' || r == '\uFF61'
}

// percentDecode decodes %XX sequences; other bytes, including a "%" that does
// not start one, stay as they are.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') }

func unhex(c byte) byte {
	if isDigit(c) {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// endsInNumber is the WHATWG "ends in a number" checker.
func endsInNumber(s string) bool {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" {
		if len(parts) == 1 {
			return false
		}
		parts = parts[:len(parts)-1]
	}
	last := parts[len(parts)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// parseIPv4Number parses one part of an IPv4 address: decimal, octal with a
// leading 0, or hex with 0x. Values saturate above 2^32.
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := uint64(10)
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		s, base = s[2:], 16
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case base == 16 && isHex(c):
			d = uint64(unhex(c))
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		if n <= 1<<32 {
			n = n*base + d
		}
	}
	return n, true
}

// parseIPv4 is the WHATWG IPv4 parser.
func parseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, p := range parts {
		n, ok := parseIPv4Number(p)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	ip := last
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		ip += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// parseIPv6 parses the inside of brackets. Zone identifiers are refused.
func parseIPv6(s string) (netip.Addr, error) {
	if s == "" || strings.Trim(s, "0123456789abcdefABCDEF:.") != "" {
		return netip.Addr{}, errInvalid
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return netip.Addr{}, errInvalid
	}
	return a, nil
}

// serializeIPv6 writes the WHATWG form: lower-case hex pieces, the first
// longest run of two or more zero pieces compressed, no dotted IPv4 tail.
func serializeIPv6(a netip.Addr) string {
	b := a.As16()
	var pieces [8]uint16
	for i := range pieces {
		pieces[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	bestStart, bestLen := -1, 1
	for i := 0; i < 8; {
		if pieces[i] != 0 {
			i++
			continue
		}
		j := i
		for j < 8 && pieces[j] == 0 {
			j++
		}
		if j-i > bestLen {
			bestStart, bestLen = i, j-i
		}
		i = j
	}
	var sb strings.Builder
	for i := 0; i < 8; i++ {
		if i == bestStart {
			if i == 0 {
				sb.WriteString("::")
			} else {
				sb.WriteByte(':')
			}
			i += bestLen - 1
			continue
		}
		sb.WriteString(strconv.FormatUint(uint64(pieces[i]), 16))
		if i < 7 {
			sb.WriteByte(':')
		}
	}
	return sb.String()
}

// parsePath applies the WHATWG path state to everything between the host
// and "?" or "#": "\" separates like "/", "." and ".." segments (also as
// %2e) are resolved, characters are percent-encoded.
func parsePath(p string) string {
	if p != "" && (p[0] == '/' || p[0] == '\\') {
		p = p[1:]
	}
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' && p[i] != '\\' {
			continue
		}
		seg := p[start:i]
		atEnd := i == len(p)
		start = i + 1
		switch {
		case isDoubleDot(seg):
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if atEnd {
				out = append(out, "")
			}
		case isSingleDot(seg):
			if atEnd {
				out = append(out, "")
			}
		default:
			out = append(out, percentEncode(seg, pathSet))
		}
	}
	return "/" + strings.Join(out, "/")
}

func isSingleDot(s string) bool { return s == "." || strings.EqualFold(s, "%2e") }

func isDoubleDot(s string) bool {
	switch strings.ToLower(s) {
	case "..", ".%2e", "%2e.", "%2e%2e":
		return true
	}
	return false
}

// Percent-encode sets of the WHATWG URL Standard (ASCII part; every
// non-ASCII character is always encoded).
type encodeSet func(c byte) bool

func c0Control(c byte) bool { return c < 0x20 || c > 0x7E }

func fragmentSet(c byte) bool {
	return c0Control(c) || c == ' ' || c == '"' || c == '<' || c == '>' || c == '`'
}

func querySet(c byte) bool {
	return c0Control(c) || c == ' ' || c == '"' || c == '#' || c == '<' || c == '>'
}

func specialQuerySet(c byte) bool { return querySet(c) || c == '\'' }

func pathSet(c byte) bool {
	return querySet(c) || c == '?' || c == '`' || c == '{' || c == '}'
}

func userinfoSet(c byte) bool {
	return pathSet(c) || c == '/' || c == ':' || c == ';' || c == '=' || c == '@' ||
		('[' <= c && c <= '^') || c == '|'
}

const upperHex = "0123456789ABCDEF"

// percentEncode encodes the bytes of s in set; a "%" that does not start a
// valid escape becomes "%25".
func percentEncode(s string, set encodeSet) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		enc := set(c)
		if c == '%' && !(i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2])) {
			enc = true
		}
		if enc && b == nil {
			b = make([]byte, 0, len(s)+16)
			b = append(b, s[:i]...)
		}
		switch {
		case enc:
			b = append(b, '%', upperHex[c>>4], upperHex[c&0xF])
		case b != nil:
			b = append(b, c)
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}
