package canonjson_test

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cueapi/cueapi/core/canonjson"
)

// verifyWebhook is what a receiver does with an incoming CueAPI webhook
// (security.md §4.5): read the raw body, check the timestamp is within 300 s
// of its own clock, re-serialize the body canonically (a no-op for bodies
// CueAPI sent, and robust to proxies that re-encode JSON), then compare the
// signature in constant time. Receivers should also deduplicate on
// (X-CueAPI-Execution-Id, X-CueAPI-Attempt).
func verifyWebhook(secret, sigHeader, tsHeader string, rawBody []byte, now time.Time) error {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return fmt.Errorf("bad X-CueAPI-Timestamp: %w", err)
	}
	if age := now.Unix() - ts; age > 300 || age < -300 {
		return fmt.Errorf("timestamp outside the 300 s window")
	}
	body, err := canonjson.Canonical(rawBody)
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if !canonjson.Verify(secret, sigHeader, ts, body) {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

// Example_verifyWebhook verifies the worked example of security.md §4.4 the
// way a Go receiver would. In an http.Handler the inputs come from
// io.ReadAll(r.Body), r.Header.Get("X-CueAPI-Signature") and
// r.Header.Get("X-CueAPI-Timestamp").
func Example_verifyWebhook() {
	secret := "whsec_abababababababababababababababababababababababababababababababab"
	rawBody := []byte(`{"attempt": 1, "cue_id": "cue_abc123def456", "execution_id": "00000000-0000-4000-8000-000000000001", "name": "daily-report", "payload": {"n": [1, 2.5, null, true], "note": "h\u00e9llo", "task": "report"}, "scheduled_for": "2026-04-18T09:00:00+00:00"}`)
	sig := "v1=49db928f65286ddbf30f8b9415f342bea1d949f227e8d99660ab9958d0525108"
	ts := "1776502800"

	now := time.Unix(1776502800+42, 0) // the receiver's clock
	fmt.Println(verifyWebhook(secret, sig, ts, rawBody, now))
	fmt.Println(verifyWebhook(secret, sig, ts, rawBody, now.Add(time.Hour)))
	fmt.Println(verifyWebhook("whsec_wrong", sig, ts, rawBody, now))
	// Output:
	// <nil>
	// timestamp outside the 300 s window
	// signature mismatch
}
