// Transport behaviour against a scripted loopback server: retries of 429/503
// (Retry-After honoured, bounded attempts), error mapping, request shape.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  CueAPI,
  CueAPIError,
  NotFoundError,
  RateLimitError,
  ServerError,
  ValidationError,
} from "../src/index.js";
import { startStub } from "./helpers/stub.js";

const envelope = (status: number, code: string, message = code) => JSON.stringify({ error: { code, message, status } });
const usage = JSON.stringify({ plan: "free" });

function client(url: string, delays: number[], extra: Partial<ConstructorParameters<typeof CueAPI>[0]> = {}) {
  return new CueAPI({
    baseUrl: url,
    apiKey: "cue_sk_test",
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...extra,
  });
}

test("429 with Retry-After is retried after exactly that delay, then succeeds", async (t) => {
  const stub = await startStub([
    { status: 429, body: envelope(429, "rate_limit_exceeded"), headers: { "retry-after": "2" } },
    { status: 429, body: envelope(429, "rate_limit_exceeded"), headers: { "retry-after": "1" } },
    { status: 200, body: usage },
  ]);
  t.after(() => stub.close());
  const delays: number[] = [];
  const got = await client(stub.url, delays).usage.get();
  assert.equal(got.plan, "free");
  assert.deepEqual(delays, [2000, 1000]);
  assert.equal(stub.requests.length, 3);
});

test("retries are bounded by maxRetries and the last error is thrown", async (t) => {
  const stub = await startStub([{ status: 503, body: envelope(503, "session_unavailable", "Sessions are not configured") }]);
  t.after(() => stub.close());
  const delays: number[] = [];
  const err = await client(stub.url, delays, { maxRetries: 3, retryBaseDelayMs: 100 })
    .usage.get()
    .then(() => assert.fail("expected an error"), (e: unknown) => e);
  assert.ok(err instanceof ServerError);
  assert.equal(err.status, 503);
  assert.equal(err.code, "session_unavailable");
  assert.equal(err.message, "Sessions are not configured");
  assert.equal(stub.requests.length, 4);
  assert.equal(delays.length, 3);
  // exponential backoff with jitter: each delay within [step/2, step] of 100, 200, 400 ms
  delays.forEach((d, i) => {
    const step = 100 * 2 ** i;
    assert.ok(d >= step / 2 && d <= step, `delay ${i} = ${d}`);
  });
});

test("a Retry-After longer than maxRetryDelayMs is thrown at once", async (t) => {
  const stub = await startStub([{ status: 429, body: envelope(429, "rate_limit_exceeded"), headers: { "retry-after": "30" } }]);
  t.after(() => stub.close());
  const delays: number[] = [];
  const err = await client(stub.url, delays, { maxRetryDelayMs: 5000 }).cues.list().catch((e: unknown) => e);
  assert.ok(err instanceof RateLimitError);
  assert.equal(err.retryAfterSeconds, 30);
  assert.deepEqual(delays, []);
  assert.equal(stub.requests.length, 1);
});

test("maxRetries: 0 disables retries", async (t) => {
  const stub = await startStub([{ status: 429, body: envelope(429, "rate_limit_exceeded"), headers: { "retry-after": "0" } }]);
  t.after(() => stub.close());
  const delays: number[] = [];
  await assert.rejects(client(stub.url, delays, { maxRetries: 0 }).cues.list(), RateLimitError);
  assert.equal(stub.requests.length, 1);
});

test("other statuses are never retried and map to their error classes", async (t) => {
  const cases: Array<[number, string, new (...a: never[]) => CueAPIError]> = [
    [401, "invalid_api_key", AuthenticationError],
    [404, "cue_not_found", NotFoundError],
    [409, "duplicate_cue_name", ConflictError],
    [422, "validation_error", ValidationError],
    [500, "internal_error", ServerError],
  ];
  for (const [status, code, cls] of cases) {
    const stub = await startStub([{ status, body: envelope(status, code), headers: { "x-request-id": "req-1" } }]);
    t.after(() => stub.close());
    const err = await client(stub.url, []).cues.get("cue_x").catch((e: unknown) => e);
    assert.ok(err instanceof cls, `${status} -> ${String(err)}`);
    assert.ok(err instanceof CueAPIError);
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    assert.equal(err.requestId, "req-1");
    assert.equal(stub.requests.length, 1);
  }
});

test("a non-JSON error body keeps its text and status", async (t) => {
  const stub = await startStub([{ status: 502, body: "<html>bad gateway</html>", headers: { "content-type": "text/html" } }]);
  t.after(() => stub.close());
  const err = await client(stub.url, []).cues.list().catch((e: unknown) => e);
  assert.ok(err instanceof ServerError);
  assert.equal(err.status, 502);
  assert.equal(err.code, "unknown");
  assert.equal(err.message, "<html>bad gateway</html>");
});

test("requests carry the key, JSON body, path and query parameters", async (t) => {
  const stub = await startStub([{ status: 200, body: "{}" }]);
  t.after(() => stub.close());
  const c = client(stub.url, []);
  await c.cues.update("cue/1 x", { name: "n" });
  await c.executions.list({ cue_id: "cue_a", status: "pending", limit: 5 });
  await c.executions.heartbeat("e1", { workerId: "w1" });
  await c.auth.regenerateWebhookSecret();
  const [patch, list, hb, regen] = stub.requests;
  assert.equal(patch.method, "PATCH");
  assert.equal(patch.url, "/v1/cues/cue%2F1%20x");
  assert.equal(patch.headers.authorization, "Bearer cue_sk_test");
  assert.equal(patch.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(patch.body), { name: "n" });
  assert.equal(list.url, "/v1/executions?cue_id=cue_a&status=pending&limit=5");
  assert.equal(hb.headers["x-worker-id"], "w1");
  assert.equal(hb.body, "");
  assert.equal(regen.headers["x-confirm-destructive"], "true");
});

test("no answer at all is a ConnectionError", async () => {
  const stub = await startStub([{ status: 200 }]);
  await stub.close(); // the port is now closed
  await assert.rejects(client(stub.url, []).usage.get(), ConnectionError);
});

test("status() returns the 503 body instead of throwing", async (t) => {
  const stub = await startStub([{ status: 503, body: JSON.stringify({ status: "down", reason: "postgres unreachable" }) }]);
  t.after(() => stub.close());
  const s = await client(stub.url, []).status();
  assert.deepEqual(s, { status: "down", reason: "postgres unreachable" });
  assert.equal(stub.requests.length, 1);
});

test("an answer slower than timeoutMs is a ConnectionError; a caller's abort is passed through", async (t) => {
  const { createServer } = await import("node:http");
  const held: Array<() => void> = [];
  const server = createServer((_req, res) => {
    held.push(() => res.end("{}"));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => {
    held.forEach((f) => f());
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as import("node:net").AddressInfo;
  const c = new CueAPI({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 50 });
  const err = await c.usage.get().catch((e: unknown) => e);
  assert.ok(err instanceof ConnectionError);
  assert.match(err.message, /timed out after 50 ms/);

  const ctrl = new AbortController();
  const slow = new CueAPI({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 60_000 });
  const p = slow.usage.get({ signal: ctrl.signal });
  ctrl.abort(new Error("stop"));
  await assert.rejects(p, /stop/);
});

test("a 2xx answer that is not JSON is a CueAPIError, not a SyntaxError", async (t) => {
  const stub = await startStub([{ status: 200, body: "<html>captive portal</html>", headers: { "content-type": "text/html" } }]);
  t.after(() => stub.close());
  const err = await client(stub.url, []).usage.get().catch((e: unknown) => e);
  assert.ok(err instanceof CueAPIError);
  assert.equal(err.code, "invalid_response");
  assert.equal(err.status, 200);
  assert.equal(err.body, "<html>captive portal</html>");
});
