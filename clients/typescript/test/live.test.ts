// The client against a real `cueapi serve` built from this checkout
// (embedded store, loopback webhook receiver).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AuthenticationError,
  ConflictError,
  CueAPI,
  CueAPIError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ValidationError,
  type Cue,
} from "../src/index.js";
import { canonicalJSON, verifyWebhook, WebhookVerificationError, type WebhookDelivery } from "../src/webhook-entry.js";
import { startReceiver, eventually, type Receiver } from "./helpers/receiver.js";
import { startServer, type Server } from "./helpers/server.js";

const inOneHour = () => new Date(Date.now() + 3600_000).toISOString();

async function thrown(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => assert.fail(`expected an error, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
}

function assertAPIError(e: unknown, cls: new (...a: never[]) => CueAPIError, status: number, code: string): asserts e is CueAPIError {
  assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
  assert.ok(e instanceof CueAPIError);
  assert.equal(e.status, status);
  assert.equal(e.code, code);
  assert.ok(e.message.length > 0);
  assert.ok(e.requestId, "X-Request-Id is kept");
}

describe("against a live cueapi serve", { timeout: 600_000 }, () => {
  let server: Server;
  let receiver: Receiver;
  let cueapi: CueAPI;
  let email: string;

  before(async () => {
    [server, receiver] = await Promise.all([startServer(), startReceiver()]);
  });
  after(async () => {
    await Promise.all([server?.stop(), receiver?.close()]);
  });

  test("register returns a key that authenticates", async () => {
    email = `ts-${process.pid}@example.com`;
    const anon = new CueAPI({ baseUrl: server.baseUrl });
    const reg = await anon.auth.register({ email });
    assert.match(reg.api_key, /^cue_sk_[0-9a-f]{32}$/);
    assert.equal(reg.email, email);
    cueapi = new CueAPI({ baseUrl: server.baseUrl, apiKey: reg.api_key });
    const me = await cueapi.auth.me();
    assert.equal(me.email, email);
    assert.equal(me.api_key_prefix, reg.api_key.slice(0, 12));
    assert.equal((await cueapi.status()).status, "healthy");
  });

  test("cues: create, list, get, update, pause, resume, delete", async () => {
    const cue: Cue = await cueapi.cues.create({
      name: "ts-nightly",
      description: "from the TypeScript client",
      schedule: { type: "recurring", cron: "0 3 * * *", timezone: "Europe/Berlin" },
      callback: { url: `${receiver.url}/nightly` },
      payload: { task: "report", depth: 2, tags: ["a", "b"] },
    });
    assert.match(cue.id, /^cue_/);
    assert.equal(cue.status, "active");
    assert.equal(cue.transport, "webhook");
    assert.equal(cue.schedule.cron, "0 3 * * *");
    assert.equal(cue.schedule.timezone, "Europe/Berlin");
    assert.deepEqual(cue.payload, { task: "report", depth: 2, tags: ["a", "b"] });
    assert.notEqual(cue.next_run, null);

    const list = await cueapi.cues.list({ limit: 10 });
    assert.ok(list.cues.some((c) => c.id === cue.id));
    assert.equal(list.limit, 10);
    assert.equal((await cueapi.cues.list({ status: "paused" })).cues.some((c) => c.id === cue.id), false);

    const detail = await cueapi.cues.get(cue.id, { execution_limit: 5 });
    assert.equal(detail.name, "ts-nightly");
    assert.deepEqual(detail.executions, []);
    assert.equal(detail.execution_total, 0);
    assert.equal(detail.execution_limit, 5);

    const updated = await cueapi.cues.update(cue.id, { name: "ts-nightly-2", description: "renamed" });
    assert.equal(updated.name, "ts-nightly-2");
    assert.equal(updated.description, "renamed");

    const paused = await cueapi.cues.pause(cue.id);
    assert.equal(paused.status, "paused");
    assert.equal(paused.next_run, null);
    assert.ok((await cueapi.cues.list({ status: "paused" })).cues.some((c) => c.id === cue.id));

    const resumed = await cueapi.cues.resume(cue.id);
    assert.equal(resumed.status, "active");
    assert.notEqual(resumed.next_run, null);

    assert.equal(await cueapi.cues.delete(cue.id), undefined);
    assertAPIError(await thrown(cueapi.cues.get(cue.id)), NotFoundError, 404, "cue_not_found");
  });

  test("fire delivers a signed webhook that verifyWebhook accepts, and refuses when tampered or too old", async () => {
    const { webhook_secret: secret } = await cueapi.auth.webhookSecret();
    assert.match(secret, /^whsec_[0-9a-f]{64}$/);
    const cue = await cueapi.cues.create({
      name: "ts-webhook",
      schedule: { type: "recurring", cron: "0 0 1 1 *" },
      callback: { url: `${receiver.url}/hook`, headers: { "X-Team": "ts" } },
      payload: { task: "hook", price: 1.5, big: 12345678901234567890, text: "é😀" },
    });
    const fired = await cueapi.cues.fire(cue.id);
    assert.equal(fired.cue_id, cue.id);
    assert.equal(fired.status, "pending");
    assert.equal(fired.triggered_by, "manual_fire");

    const d = await receiver.waitFor((r) => r.headers["x-cueapi-execution-id"] === fired.id);
    assert.equal(d.method, "POST");
    assert.equal(d.path, "/hook");
    assert.equal(d.headers["x-team"], "ts");
    assert.equal(d.headers["x-cueapi-cue-id"], cue.id);

    // The server sends canonical JSON; this client's canonical form agrees byte for byte.
    assert.equal(canonicalJSON(d.rawBody), d.rawBody.toString("utf8"));
    assert.ok(d.rawBody.toString("utf8").includes('"text": "\\u00e9\\ud83d\\ude00"'), d.rawBody.toString("utf8"));
    const ev = verifyWebhook<WebhookDelivery>(d.rawBody, d.headers, secret, { toleranceSeconds: 300 });
    assert.equal(ev.execution_id, fired.id);
    assert.equal(ev.cue_id, cue.id);
    assert.equal(ev.name, "ts-webhook");
    assert.equal(ev.attempt, 1);
    assert.equal(ev.payload.text, "é😀");
    assert.equal(ev.payload.price, 1.5);

    const tampered = Buffer.from(d.rawBody.toString("utf8").replace('"task": "hook"', '"task": "hack"'));
    assert.notDeepEqual(tampered, d.rawBody);
    assert.throws(
      () => verifyWebhook(tampered, d.headers, secret, { toleranceSeconds: 300 }),
      (e: unknown) => e instanceof WebhookVerificationError && e.reason === "signature_mismatch",
    );
    const sentAt = Number(d.headers["x-cueapi-timestamp"]);
    assert.throws(
      () => verifyWebhook(d.rawBody, d.headers, secret, { toleranceSeconds: 300, now: (sentAt + 301) * 1000 }),
      (e: unknown) => e instanceof WebhookVerificationError && e.reason === "timestamp_outside_tolerance",
    );
    assert.throws(
      () => verifyWebhook(d.rawBody, d.headers, "whsec_" + "0".repeat(64)),
      (e: unknown) => e instanceof WebhookVerificationError && e.reason === "signature_mismatch",
    );

    const delivered = await eventually(async () => {
      const x = await cueapi.executions.get(fired.id);
      return x.status === "success" ? x : undefined;
    }, 30_000, "execution success");
    assert.equal(delivered.http_status, 200);
    const rep = await cueapi.executions.reportOutcome(fired.id, { success: true, result: "handled", metadata: { ms: 12 } });
    assert.equal(rep.outcome_recorded, true);
    assert.equal(rep.outcome_state, "reported_success");
    const listed = await cueapi.executions.list({ cue_id: cue.id });
    assert.deepEqual(listed.executions.map((x) => x.id), [fired.id]);
    assert.equal(listed.executions[0].outcome?.result, "handled");
  });

  test("worker: heartbeat, claim, execution heartbeat, outcome", async () => {
    const workerId = "ts-worker-1";
    const hb = await cueapi.workers.heartbeat({ worker_id: workerId, handlers: ["report"] });
    assert.equal(hb.acknowledged, true);
    const cue = await cueapi.cues.create({
      name: "ts-worker-cue",
      transport: "worker",
      schedule: { type: "once", at: inOneHour() },
      payload: { task: "report", n: 3 },
    });
    assert.equal(cue.transport, "worker");
    const fired = await cueapi.cues.fire(cue.id);

    const claimable = await cueapi.executions.listClaimable({ task: "report" });
    const item = claimable.executions.find((x) => x.execution_id === fired.id);
    assert.ok(item, "the fired execution is claimable");
    assert.equal(item.cue_name, "ts-worker-cue");
    assert.deepEqual(item.payload, { task: "report", n: 3 });
    assert.deepEqual((await cueapi.executions.listClaimable({ task: "other" })).executions, []);

    const claim = await cueapi.executions.claim(fired.id, workerId);
    assert.equal(claim.claimed, true);
    assert.equal(claim.execution_id, fired.id);
    assert.ok(claim.lease_seconds > 0);
    assertAPIError(await thrown(cueapi.executions.claim(fired.id, "someone-else")), ConflictError, 409, "claim_failed");
    assertAPIError(await thrown(cueapi.executions.claimNext(workerId)), ConflictError, 409, "claim_failed");

    const lease = await cueapi.executions.heartbeat(fired.id, { workerId });
    assert.equal(lease.acknowledged, true);
    assert.equal(lease.execution_id, fired.id);
    assertAPIError(await thrown(cueapi.executions.heartbeat(fired.id, { workerId: "intruder" })), PermissionDeniedError, 403, "not_execution_owner");

    const out = await cueapi.executions.reportOutcome(fired.id, { success: true, result: "3 rows", external_id: "job-42" });
    assert.equal(out.outcome_state, "reported_success");
    const done = await cueapi.executions.get(fired.id);
    assert.equal(done.status, "success");
    assert.equal(done.claimed_by_worker, workerId);
    assert.equal(done.outcome?.success, true);
    assert.equal(done.outcome?.result, "3 rows");
    assert.equal(done.evidence?.external_id, "job-42");
    assertAPIError(await thrown(cueapi.executions.reportOutcome(fired.id, { success: false })), ConflictError, 409, "outcome_already_recorded");

    const workers = await cueapi.workers.list();
    const w = workers.workers.find((x) => x.worker_id === workerId);
    assert.ok(w);
    assert.equal(w.heartbeat_status, "active");
    assert.deepEqual(w.handlers, ["report"]);
  });

  test("errors: 401, 404, 409, 422 carry the envelope's code, message and status", async () => {
    const bad = new CueAPI({ baseUrl: server.baseUrl, apiKey: "cue_sk_" + "0".repeat(32) });
    assertAPIError(await thrown(bad.cues.list()), AuthenticationError, 401, "invalid_api_key");

    assertAPIError(await thrown(cueapi.cues.get("cue_doesnotexist")), NotFoundError, 404, "cue_not_found");
    assertAPIError(await thrown(cueapi.executions.get("00000000-0000-4000-8000-000000000000")), NotFoundError, 404, "execution_not_found");

    const spec = { name: "ts-dup", transport: "worker" as const, schedule: { type: "once", at: inOneHour() } };
    await cueapi.cues.create(spec);
    assertAPIError(await thrown(cueapi.cues.create(spec)), ConflictError, 409, "duplicate_cue_name");

    const e = await thrown(cueapi.cues.list({ limit: 1000 }));
    assertAPIError(e, ValidationError, 422, "validation_error");
    assert.equal(e.details[0]?.field, "query.limit");
    assert.ok(e.message.startsWith("query.limit"), e.message);

    const long = await thrown(cueapi.cues.create({ ...spec, name: "x".repeat(300) }));
    assertAPIError(long, ValidationError, 422, "validation_error");
    assert.equal(long.details[0]?.field, "body.name");
  });
});

describe("rate limiting against a live cueapi serve", { timeout: 600_000 }, () => {
  let server: Server;
  let apiKey: string;

  before(async () => {
    server = await startServer({ DEFAULT_RATE_LIMIT_PER_MINUTE: "3" });
    apiKey = (await new CueAPI({ baseUrl: server.baseUrl }).auth.register({ email: "limited@example.com" })).api_key;
  });
  after(async () => {
    await server?.stop();
  });

  test("429 maps to RateLimitError with Retry-After, and retries wait for it, bounded", async () => {
    const once = new CueAPI({ baseUrl: server.baseUrl, apiKey, maxRetries: 0 });
    let err: unknown;
    let accepted = 0;
    for (let i = 0; i < 10 && err === undefined; i++) {
      try {
        await once.usage.get();
        accepted++;
      } catch (e) {
        err = e;
      }
    }
    assert.equal(accepted, 3, "the per-minute limit of 3 is enforced");
    assertAPIError(err, RateLimitError, 429, "rate_limit_exceeded");
    const after = err.retryAfterSeconds;
    assert.ok(after !== undefined && after >= 1 && after <= 60, `Retry-After ${after}`);

    const delays: number[] = [];
    const retrying = new CueAPI({
      baseUrl: server.baseUrl,
      apiKey,
      maxRetries: 2,
      maxRetryDelayMs: 120_000,
      sleep: async (ms) => {
        delays.push(ms); // record instead of waiting: the window stays full
      },
    });
    const e2 = await thrown(retrying.usage.get());
    assertAPIError(e2, RateLimitError, 429, "rate_limit_exceeded");
    assert.equal(delays.length, 2, "two retries, then the error");
    for (const d of delays) assert.ok(d >= 1000 && d <= 60_000 && d % 1000 === 0, `delay ${d} follows Retry-After`);

    const impatient = new CueAPI({ baseUrl: server.baseUrl, apiKey, maxRetryDelayMs: 500, sleep: async (ms) => void delays.push(ms) });
    const before = delays.length;
    assertAPIError(await thrown(impatient.usage.get()), RateLimitError, 429, "rate_limit_exceeded");
    assert.equal(delays.length, before, "a Retry-After beyond maxRetryDelayMs is not waited for");
  });
});
