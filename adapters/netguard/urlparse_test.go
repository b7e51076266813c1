package netguard

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cueapi/cueapi/core"
)

// TestCanonicalize covers the spellings of security.md §3.4 and the WHATWG
// normalizations of §3.2 step 1.
func TestCanonicalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // canonical form; "" when rejected
		msg  string // rejection message when want is ""
	}{
		{name: "decimal integer", in: "https://2130706433/", want: "https://127.0.0.1/"},
		{name: "hex integer", in: "https://0x7f000001/", want: "https://127.0.0.1/"},
		{name: "upper-case hex prefix", in: "https://0X7F000001/", want: "https://127.0.0.1/"},
		{name: "octal dotted", in: "https://0177.0.0.1/", want: "https://127.0.0.1/"},
		{name: "octal integer", in: "https://017700000001/", want: "https://127.0.0.1/"},
		{name: "short form", in: "https://127.1/", want: "https://127.0.0.1/"},
		{name: "hex short form", in: "https://0x7f.1/", want: "https://127.0.0.1/"},
		{name: "zero padded", in: "https://127.000.000.001/", want: "https://127.0.0.1/"},
		{name: "bare zero", in: "https://0/", want: "https://0.0.0.0/"},
		{name: "public decimal", in: "https://134744072/", want: "https://8.8.8.8/"},
		{name: "three parts", in: "https://10.1.258/", want: "https://10.1.1.2/"},
		{name: "trailing dot ipv4", in: "https://1.1.1.1./", want: "https://1.1.1.1/"},
		{name: "fullwidth digits", in: "https://８.８.８.８/", want: "https://8.8.8.8/"},
		{name: "ideographic full stop", in: "https://8。8。8。8/", want: "https://8.8.8.8/"},
		{name: "percent-encoded ipv4", in: "https://%31%32%37.0.0.1/", want: "https://127.0.0.1/"},
		{name: "ipv6 uncompressed loopback", in: "https://[0:0:0:0:0:0:0:1]/", want: "https://[::1]/"},
		{name: "ipv6 unspecified", in: "https://[::0]/", want: "https://[::]/"},
		{name: "ipv6 mapped dotted", in: "https://[::ffff:127.0.0.1]/", want: "https://[::ffff:7f00:1]/"},
		{name: "ipv6 upper case", in: "https://[2001:DB8:0:0:1:0:0:1]/", want: "https://[2001:db8::1:0:0:1]/"},
		{name: "ipv6 longest zero run", in: "https://[1:0:0:2:0:0:0:3]/", want: "https://[1:0:0:2::3]/"},
		{name: "ipv6 single zero not compressed", in: "https://[1:0:2:3:4:5:6:7]/", want: "https://[1:0:2:3:4:5:6:7]/"},
		{name: "ipv6 with port", in: "https://[::1]:8443/x", want: "https://[::1]:8443/x"},
		{name: "percent-encoded localhost", in: "https://%6c%6f%63%61%6c%68%6f%73%74/", want: "https://localhost/"},
		{name: "circled letter", in: "https://ⓛocalhost/", want: "https://localhost/"},
		{name: "idn", in: "https://Bücher.example/", want: "https://xn--bcher-kva.example/"},
		{name: "punycode kept", in: "https://xn--bcher-kva.example/", want: "https://xn--bcher-kva.example/"},
		{name: "upper-case scheme and host", in: "HTTPS://EXAMPLE.COM", want: "https://example.com/"},
		{name: "trailing dot domain kept", in: "https://Example.com./", want: "https://example.com./"},
		{name: "underscore", in: "https://my_host.example.com/", want: "https://my_host.example.com/"},
		{name: "surrounding spaces", in: "  https://example.com/  ", want: "https://example.com/"},
		{name: "tab and newlines", in: "https://exa\tmple.com/a\nb\r", want: "https://example.com/ab"},
		{name: "backslashes", in: `https:\\example.com\a\b`, want: "https://example.com/a/b"},
		{name: "missing slashes", in: "https:example.com/x", want: "https://example.com/x"},
		{name: "extra slashes", in: "https:////example.com/x", want: "https://example.com/x"},
		{name: "no host before path", in: "https:///webhook", want: "https://webhook/"},
		{name: "empty userinfo", in: "https://@8.8.8.8/", want: "https://8.8.8.8/"},
		{name: "empty user and password", in: "https://:@8.8.8.8/", want: "https://8.8.8.8/"},
		{name: "default https port", in: "https://example.com:443/", want: "https://example.com/"},
		{name: "default http port", in: "http://example.com:80/", want: "http://example.com/"},
		{name: "zero-padded default port", in: "https://example.com:0443/x", want: "https://example.com/x"},
		{name: "other port", in: "https://example.com:8443", want: "https://example.com:8443/"},
		{name: "empty port", in: "https://example.com:/x", want: "https://example.com/x"},
		{name: "dot segments", in: "https://example.com/a/./b/../c", want: "https://example.com/a/c"},
		{name: "encoded dot segments", in: "https://example.com/a/%2e%2E/x/%2e", want: "https://example.com/x/"},
		{name: "dot-dot above root", in: "https://example.com/../../x", want: "https://example.com/x"},
		{name: "path encoding", in: "https://example.com/a b\"<>`{}^|é", want: "https://example.com/a%20b%22%3C%3E%60%7B%7D^|%C3%A9"},
		{name: "query encoding", in: "https://example.com/?a='b' c&d=é", want: "https://example.com/?a=%27b%27%20c&d=%C3%A9"},
		{name: "fragment encoding", in: "https://example.com/#a b`é", want: "https://example.com/#a%20b%60%C3%A9"},
		{name: "empty query and fragment kept", in: "https://example.com?#", want: "https://example.com/?#"},
		{name: "valid escapes kept", in: "https://example.com/%41%2F?q=%41", want: "https://example.com/%41%2F?q=%41"},
		{name: "stray percent encoded", in: "https://example.com/%zz?%#%4", want: "https://example.com/%25zz?%25#%254"},
		{name: "NUL in path", in: "https://example.com/a\x00b", want: "https://example.com/a%00b"},
		{name: "fragment at sign", in: "https://8.8.8.8#@127.0.0.1/", want: "https://8.8.8.8/#@127.0.0.1/"},
		{name: "query at sign", in: "https://8.8.8.8?@127.0.0.1/", want: "https://8.8.8.8/?@127.0.0.1/"},
		{name: "backslash at sign", in: `https://8.8.8.8\@127.0.0.1/`, want: "https://8.8.8.8/@127.0.0.1/"},

		{name: "too many ipv4 parts", in: "https://1.2.3.4.5/", msg: MsgInvalidURL},
		{name: "ipv4 part over 255", in: "https://256.256.256.256/", msg: MsgInvalidURL},
		{name: "ipv4 integer over 32 bits", in: "https://0x100000000/", msg: MsgInvalidURL},
		{name: "bad octal", in: "https://1.2.3.09/", msg: MsgInvalidURL},
		{name: "numeric last label", in: "https://example.123/", msg: MsgInvalidURL},
		{name: "hex last label", in: "https://example.0x1/", msg: MsgInvalidURL},
		{name: "space in host", in: "https://exa mple.com/", msg: MsgInvalidURL},
		{name: "encoded space in host", in: "https://exa%20mple.com/", msg: MsgInvalidURL},
		{name: "brace in host", in: "https://a{b}.com/", msg: MsgInvalidURL},
		{name: "unclosed bracket", in: "https://[::1/", msg: MsgInvalidURL},
		{name: "ipv4 in brackets", in: "https://[1.2.3.4]/", msg: MsgInvalidURL},
		{name: "zone id", in: "https://[fe80::1%25eth0]/", msg: MsgInvalidURL},
		{name: "raw zone id", in: "https://[fe80::1%eth0]/", msg: MsgInvalidURL},
		{name: "port too large", in: "https://example.com:99999/", msg: MsgInvalidURL},
		{name: "port not numeric", in: "https://example.com:8a/", msg: MsgInvalidURL},
		{name: "no scheme", in: "example.com/hook", msg: MsgInvalidURL},
		{name: "empty", in: "", msg: MsgInvalidURL},
		{name: "invalid utf-8", in: "https://example.com/\xff", msg: MsgInvalidURL},
		{name: "bad punycode", in: "https://xn--a.example/", msg: MsgInvalidURL},
		{name: "non-ASCII punycode label", in: "https://xn--é-.example/", msg: MsgInvalidURL},
		{name: "empty punycode label", in: "https://a.xn--/", msg: MsgInvalidURL},
		{name: "empty punycode label before number", in: "https://2558080.xn--/", msg: MsgInvalidURL},
		{name: "empty punycode label after ideographic stop", in: "https://a。xn--/", msg: MsgInvalidURL},
		{name: "ftp", in: "ftp://example.com/data", msg: MsgHTTPSOnly},
		{name: "javascript", in: "javascript:alert(1)", msg: MsgHTTPSOnly},
		{name: "no host", in: "https://", msg: MsgNoHostname},
		{name: "only port", in: "https://:443/", msg: MsgNoHostname},
		{name: "userinfo without host", in: "https://user@/", msg: MsgNoHostname},
	}
	g := New(Config{Resolver: NewFakeResolver()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := g.Canonicalize(tt.in)
			if tt.want == "" {
				var rej *core.URLRejection
				require.ErrorAs(t, err, &rej)
				require.Equal(t, tt.msg, rej.Message)
				return
			}
			require.NoError(t, err)
			p, err := parseURL(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, p.String())
			require.Equal(t, p.hostname, u.Hostname())
			// Idempotent.
			again, err := parseURL(tt.want)
			require.NoError(t, err)
			require.Equal(t, tt.want, again.String())
		})
	}
}

func TestCanonicalizeCredentials(t *testing.T) {
	t.Parallel()
	g := New(Config{Resolver: NewFakeResolver()})
	u, err := g.Canonicalize("https://a@b:p@ss@example.com/")
	require.NoError(t, err)
	require.Equal(t, "example.com", u.Hostname())
	require.Equal(t, "a@b", u.User.Username())
	pw, ok := u.User.Password()
	require.True(t, ok)
	require.Equal(t, "p@ss", pw)
}
