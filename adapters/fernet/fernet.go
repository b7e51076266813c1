// Package fernet seals secrets for storage with Fernet tokens
// (https://github.com/fernet/spec), byte-compatible with Python's
// cryptography.fernet as the reference uses it (security.md §1.6): the key
// is SHA-256 of SESSION_SECRET, the token is
//
//	0x80 | timestamp (8 bytes, big-endian Unix seconds) | IV (16 bytes) |
//	AES-128-CBC ciphertext (PKCS#7) | HMAC-SHA256 of all previous bytes
//
// in URL-safe base64 with padding. No TTL is enforced on Open.
package fernet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Token layout sizes.
const (
	version      = 0x80
	headerLen    = 1 + 8 + aes.BlockSize // version, timestamp, IV
	macLen       = sha256.Size
	minTokenLen  = headerLen + aes.BlockSize + macLen
	signingKeyAt = 0  // key[0:16] signs
	cryptKeyAt   = 16 // key[16:32] encrypts
)

// ErrInvalidToken is returned by Open for any token that does not
// authenticate under one of the box's keys or is malformed. The cause is not
// disclosed.
var ErrInvalidToken = errors.New("fernet: invalid token")

// KeyFromSecret derives the reference's Fernet key from a secret string:
// SHA-256 of its UTF-8 bytes; the first 16 bytes sign, the last 16 encrypt.
func KeyFromSecret(secret string) [32]byte {
	return sha256.Sum256([]byte(secret))
}

// EncodeKey returns key in the textual form Python's Fernet takes (URL-safe
// base64 with padding, 44 characters).
func EncodeKey(key [32]byte) string {
	return base64.URLEncoding.EncodeToString(key[:])
}

// ParseKey decodes a key written by EncodeKey (or by Fernet.generate_key).
func ParseKey(s string) ([32]byte, error) {
	var key [32]byte
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil || len(b) != len(key) {
		return key, errors.New("fernet: key must be 32 bytes in URL-safe base64")
	}
	copy(key[:], b)
	return key, nil
}

// Box seals with one primary key and opens with the primary key or any
// fallback key (for rotation). Safe for concurrent use.
type Box struct {
	keys [][32]byte // keys[0] is the primary
	now  func() time.Time
	rand io.Reader
}

// Option configures a Box.
type Option func(*Box)

// WithFallbackKeys adds keys that Open also tries, in order, after the
// primary key; Seal never uses them. Use it while rotating SESSION_SECRET.
func WithFallbackKeys(keys ...[32]byte) Option {
	return func(b *Box) { b.keys = append(b.keys, keys...) }
}

// New returns a Box sealing with key. now supplies the token timestamp
// (time.Now when nil).
func New(key [32]byte, now func() time.Time, opts ...Option) *Box {
	if now == nil {
		now = time.Now
	}
	b := &Box{keys: [][32]byte{key}, now: now, rand: rand.Reader}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Seal encrypts plaintext into a Fernet token with a random IV.
func (b *Box) Seal(plaintext string) (string, error) {
	var iv [aes.BlockSize]byte
	if _, err := io.ReadFull(b.rand, iv[:]); err != nil {
		return "", fmt.Errorf("fernet: read IV: %w", err)
	}
	return seal(b.keys[0], []byte(plaintext), iv, b.now())
}

// seal builds the token for given IV and time.
func seal(key [32]byte, plaintext []byte, iv [aes.BlockSize]byte, at time.Time) (string, error) {
	block, err := aes.NewCipher(key[cryptKeyAt:])
	if err != nil {
		return "", fmt.Errorf("fernet: %w", err)
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	tok := make([]byte, headerLen, headerLen+len(plaintext)+pad+macLen)
	tok[0] = version
	binary.BigEndian.PutUint64(tok[1:9], uint64(at.Unix()))
	copy(tok[9:headerLen], iv[:])
	tok = append(tok, plaintext...)
	tok = append(tok, bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, iv[:]).CryptBlocks(tok[headerLen:], tok[headerLen:])
	mac := hmac.New(sha256.New, key[signingKeyAt:cryptKeyAt])
	mac.Write(tok)
	tok = mac.Sum(tok)
	return base64.URLEncoding.EncodeToString(tok), nil
}

// Open authenticates and decrypts a token with the primary key, then each
// fallback key. It returns ErrInvalidToken when no key authenticates it, the
// layout is wrong or the plaintext is not UTF-8. The timestamp is not
// checked.
func (b *Box) Open(token string) (string, error) {
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(raw) < minTokenLen || raw[0] != version ||
		(len(raw)-headerLen-macLen)%aes.BlockSize != 0 {
		return "", ErrInvalidToken
	}
	for _, key := range b.keys {
		if pt, ok := open(key, raw); ok {
			return pt, nil
		}
	}
	return "", ErrInvalidToken
}

func open(key [32]byte, raw []byte) (string, bool) {
	body, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	mac := hmac.New(sha256.New, key[signingKeyAt:cryptKeyAt])
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return "", false
	}
	block, err := aes.NewCipher(key[cryptKeyAt:])
	if err != nil {
		return "", false
	}
	ct := body[headerLen:]
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, body[9:headerLen]).CryptBlocks(pt, ct)
	pad := int(pt[len(pt)-1])
	if pad == 0 || pad > aes.BlockSize {
		return "", false
	}
	for _, c := range pt[len(pt)-pad:] {
		if int(c) != pad {
			return "", false
		}
	}
	pt = pt[:len(pt)-pad]
	if !utf8.Valid(pt) {
		return "", false
	}
	return string(pt), true
}
