import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { signWebhook, verifyWebhook, WebhookVerificationError, type WebhookDelivery } from "../src/webhook-entry.js";

const secret = "whsec_" + "ab".repeat(32);
const body = `{"attempt": 1, "cue_id": "cue_abcdefghijkl", "execution_id": "e1", "name": "n\\u00e9", "payload": {"n": 1.0}, "scheduled_for": "2026-04-19T16:00:00+00:00"}`;
const ts = 1_776_614_400;
const now = ts * 1000;

function headers(b = body, t: number | string = ts): Record<string, string> {
  return { "x-cueapi-signature": signWebhook(b, secret, t), "x-cueapi-timestamp": String(t) };
}

function rejects(fn: () => unknown, reason: string) {
  assert.throws(fn, (e: unknown) => e instanceof WebhookVerificationError && e.reason === reason);
}

test("a correctly signed body verifies and is returned parsed", () => {
  const ev = verifyWebhook<WebhookDelivery>(body, headers(), secret, { now });
  assert.equal(ev.execution_id, "e1");
  assert.equal(ev.name, "né");
  assert.deepEqual(ev.payload, { n: 1 });
  // bytes, fetch Headers and mixed-case names work too
  const h = new Headers({ "X-CueAPI-Signature": signWebhook(body, secret, ts), "X-CueAPI-Timestamp": String(ts) });
  assert.equal(verifyWebhook(Buffer.from(body), h, secret, { now: new Date(now) }).execution_id, "e1");
  assert.equal(verifyWebhook(body, { "X-CueAPI-Signature": headers()["x-cueapi-signature"], "X-CueAPI-Timestamp": String(ts) }, secret, { now }).attempt, 1);
});

test("the signature is HMAC-SHA256 over <timestamp>.<body> keyed with the whole secret", () => {
  // Same construction as core/canonjson.Sign; computed independently here.
  const want = "v1=" + createHmac("sha256", secret).update(`${ts}.${body}`).digest("hex");
  assert.equal(signWebhook(body, secret, ts), want);
});

test("a tampered body is refused", () => {
  const tampered = body.replace('"n": 1.0', '"n": 2.0');
  rejects(() => verifyWebhook(tampered, headers(), secret, { now }), "signature_mismatch");
});

test("a wrong secret is refused", () => {
  rejects(() => verifyWebhook(body, headers(), "whsec_" + "cd".repeat(32), { now }), "signature_mismatch");
});

test("a timestamp older (or newer) than the tolerance is refused", () => {
  rejects(() => verifyWebhook(body, headers(), secret, { now: now + 301_000 }), "timestamp_outside_tolerance");
  rejects(() => verifyWebhook(body, headers(), secret, { now: now - 301_000 }), "timestamp_outside_tolerance");
  assert.equal(verifyWebhook(body, headers(), secret, { now: now + 300_000 }).execution_id, "e1");
  rejects(() => verifyWebhook(body, headers(), secret, { now: now + 11_000, toleranceSeconds: 10 }), "timestamp_outside_tolerance");
});

test("re-signing with a new timestamp cannot be replayed under the old signature", () => {
  const h = { ...headers(), "x-cueapi-timestamp": String(ts + 1) };
  rejects(() => verifyWebhook(body, h, secret, { now }), "signature_mismatch");
});

test("missing or malformed headers are refused", () => {
  rejects(() => verifyWebhook(body, { "x-cueapi-timestamp": String(ts) }, secret, { now }), "missing_signature");
  rejects(() => verifyWebhook(body, { "x-cueapi-signature": headers()["x-cueapi-signature"] }, secret, { now }), "missing_timestamp");
  rejects(() => verifyWebhook(body, { ...headers(), "x-cueapi-timestamp": "12.5" }, secret, { now }), "invalid_timestamp");
  rejects(() => verifyWebhook(body, { ...headers(), "x-cueapi-signature": "v0=abc" }, secret, { now }), "missing_signature");
  rejects(() => verifyWebhook(body, { ...headers(), "x-cueapi-signature": "v1=" + "0".repeat(63) }, secret, { now }), "missing_signature");
});

test("a body a proxy re-encoded still verifies through its canonical form", () => {
  const reencoded = JSON.stringify(JSON.parse(body), null, 2).replace('"n": 1', '"n": 1.0');
  assert.notEqual(reencoded, body);
  assert.equal(verifyWebhook(reencoded, headers(), secret, { now }).execution_id, "e1");
});

test("a body that does not match and is not JSON is refused", () => {
  rejects(() => verifyWebhook("not json", headers(), secret, { now }), "invalid_body");
});

test("a deeply nested body verifies on its raw bytes", () => {
  const deep = `{"payload": ${"[".repeat(5000)}${"]".repeat(5000)}}`;
  assert.ok(verifyWebhook<{ payload: unknown }>(deep, headers(deep), secret, { now }).payload);
});

test("one of several v1 signatures may match (secret rotation)", () => {
  const other = signWebhook(body, "whsec_old", ts);
  const h = { ...headers(), "x-cueapi-signature": `${other}, ${headers()["x-cueapi-signature"]}` };
  assert.equal(verifyWebhook(body, h, secret, { now }).execution_id, "e1");
});
