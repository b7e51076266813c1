package canonjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// SignaturePrefix is the version prefix of the X-CueAPI-Signature header.
const SignaturePrefix = "v1="

// Sign returns the X-CueAPI-Signature header value for a webhook body:
// "v1=" followed by the lower-case hex HMAC-SHA256, keyed with the UTF-8
// bytes of secret (the whole string, "whsec_" prefix included), of the
// decimal timestamp, a ".", and body (security.md §4.2). body must be the
// exact bytes sent, normally the output of Canonical; for GET callbacks it
// is empty.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	var ts [20]byte
	mac.Write(strconv.AppendInt(ts[:0], timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	out := make([]byte, len(SignaturePrefix)+hex.EncodedLen(sha256.Size))
	copy(out, SignaturePrefix)
	hex.Encode(out[len(SignaturePrefix):], mac.Sum(sum[:0]))
	return string(out)
}

// Verify reports whether header is the signature Sign produces for
// secret, timestamp and body, comparing in constant time. It does not check
// the timestamp's age: receivers also reject timestamps more than 300 s from
// their clock (security.md §4.5).
func Verify(secret, header string, timestamp int64, body []byte) bool {
	want := Sign(secret, timestamp, body)
	return hmac.Equal([]byte(want), []byte(header))
}
