package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/cueapi/cueapi/core/canonjson"
)

// Body verification (clients.md §2.6, E2–E3): a POST, PATCH or PUT sent
// with X-CueAPI-Verify-Echo: true gets body_received and
// body_received_sha256 added to its 2xx JSON object response, so that the
// caller can detect a body altered before it left (shell expansion).

// verifyEchoHeader is the request header that asks for the echo.
const verifyEchoHeader = "X-CueAPI-Verify-Echo"

// emptySHA256 is the SHA-256 of the empty string: what fire echoes.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// wantsVerifyEcho reports whether r asks for the echo: a POST, PATCH or PUT
// whose header value is "true" after trimming, in any case.
func wantsVerifyEcho(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut:
	default:
		return false
	}
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(verifyEchoHeader)), "true")
}

// echoKeys are the two keys added for a request body: for fire (clients.md
// E2) body_received null and the SHA-256 of the empty string (the clients
// then skip their comparison, which a server cannot reproduce); elsewhere
// (E3) the parsed body (null when empty; a string when not JSON) and the
// SHA-256 of it re-serialized with sorted keys and compact separators (of
// the raw bytes when not JSON).
func echoKeys(operationID string, body []byte) (received json.RawMessage, sha string) {
	if strings.EqualFold(operationID, "fireCue") { // the embedded spec may capitalize ids
		return json.RawMessage("null"), emptySHA256
	}
	if strings.EqualFold(operationID, "sendMessage") {
		return messageEcho(body)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return json.RawMessage("null"), hashHex(nil)
	}
	if canon, err := canonjson.SortedCompact(trimmed); err == nil {
		var compact bytes.Buffer
		if json.Compact(&compact, trimmed) == nil {
			return compact.Bytes(), hashHex(canon)
		}
	}
	text, _ := json.Marshal(strings.ToValidUTF8(string(body), "\uFFFD"))
	return text, hashHex(body)
}

func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// echoWriter buffers a response so that the echo keys can be added to it.
type echoWriter struct {
	w      http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (e *echoWriter) Header() http.Header { return e.w.Header() }

func (e *echoWriter) WriteHeader(code int) {
	if e.status == 0 {
		e.status = code
	}
}

func (e *echoWriter) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	return e.buf.Write(b)
}

// serveWithVerifyEcho runs next and adds the echo keys to a 2xx JSON object
// response that does not already have body_received.
func serveWithVerifyEcho(next http.Handler, w http.ResponseWriter, r *http.Request, operationID string, body []byte) {
	ew := &echoWriter{w: w}
	next.ServeHTTP(ew, r)
	if ew.status == 0 {
		ew.status = http.StatusOK
	}
	out := ew.buf.Bytes()
	if ew.status >= 200 && ew.status < 300 && isJSONResponse(w.Header().Get("Content-Type")) {
		if added, ok := addEchoKeys(out, operationID, body); ok {
			out = added
			w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		}
	}
	w.WriteHeader(ew.status)
	_, _ = w.Write(out)
}

func isJSONResponse(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// addEchoKeys appends the echo keys to a JSON object response body.
func addEchoKeys(resp []byte, operationID string, body []byte) ([]byte, bool) {
	trimmed := bytes.TrimSpace(resp)
	if len(trimmed) < 2 || trimmed[0] != '{' || trimmed[len(trimmed)-1] != '}' {
		return nil, false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(trimmed, &obj) != nil {
		return nil, false
	}
	if _, ok := obj["body_received"]; ok {
		return nil, false
	}
	received, sha := echoKeys(operationID, body)
	var b bytes.Buffer
	b.Grow(len(trimmed) + len(received) + 100)
	b.Write(trimmed[:len(trimmed)-1])
	if len(obj) > 0 {
		b.WriteByte(',')
	}
	b.WriteString(`"body_received":`)
	b.Write(received)
	b.WriteString(`,"body_received_sha256":"`)
	b.WriteString(sha)
	b.WriteString(`"}`)
	return b.Bytes(), true
}
