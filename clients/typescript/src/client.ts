// The resources: one method per operation of openapi.yaml, named the way the
// Python SDK names them. Request and response types come from the contract
// (src/types.ts), so they follow openapi.yaml through `make generate`.
import { Transport, type ClientOptions, type RequestOptions } from "./http.js";
import type { QueryParams, RequestBody, SuccessBody } from "./types.js";

const confirm = { "X-Confirm-Destructive": "true" };

export class AuthResource {
  constructor(private readonly t: Transport) {}
  /** Creates an account; the answer holds its API key (shown only here). */
  register(body: RequestBody<"/v1/auth/register", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/register", { body }, o);
  }
  me(o?: RequestOptions) {
    return this.t.call("get", "/v1/auth/me", {}, o);
  }
  updateMe(body: RequestBody<"/v1/auth/me", "patch">, o?: RequestOptions) {
    return this.t.call("patch", "/v1/auth/me", { body }, o);
  }
  /** Rotates the API key; the current one stops working at once. */
  regenerateKey(o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/key/regenerate", { headers: confirm }, o);
  }
  revealKey(o?: RequestOptions) {
    return this.t.call("get", "/v1/auth/key", {}, o);
  }
  /** The `whsec_` secret that signs webhook deliveries (see verifyWebhook). */
  webhookSecret(o?: RequestOptions) {
    return this.t.call("get", "/v1/auth/webhook-secret", {}, o);
  }
  regenerateWebhookSecret(o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/webhook-secret/regenerate", { headers: confirm }, o);
  }
  alertWebhookSecret(o?: RequestOptions) {
    return this.t.call("get", "/v1/auth/alert-webhook-secret", {}, o);
  }
  regenerateAlertWebhookSecret(o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/alert-webhook-secret/regenerate", { headers: confirm }, o);
  }
  createSession(body: RequestBody<"/v1/auth/session", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/session", { body }, o);
  }
  refreshSession(o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/session/refresh", {}, o);
  }
  createDeviceCode(body: RequestBody<"/v1/auth/device-code", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/device-code", { body }, o);
  }
  pollDeviceCode(body: RequestBody<"/v1/auth/device-code/poll", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/device-code/poll", { body }, o);
  }
  submitDeviceCodeEmail(body: RequestBody<"/v1/auth/device-code/submit-email", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/auth/device-code/submit-email", { body }, o);
  }
}

export class CuesResource {
  constructor(private readonly t: Transport) {}
  create(body: RequestBody<"/v1/cues", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/cues", { body }, o);
  }
  list(query: QueryParams<"/v1/cues", "get"> = {}, o?: RequestOptions) {
    return this.t.call("get", "/v1/cues", { query }, o);
  }
  /** The cue with a page of its executions (newest first). */
  get(cueId: string, query: QueryParams<"/v1/cues/{cue_id}", "get"> = {}, o?: RequestOptions) {
    return this.t.call("get", "/v1/cues/{cue_id}", { path: { cue_id: cueId }, query }, o);
  }
  /** Changes only the fields given; `schedule`, `retry` and `on_failure` are full replacements. */
  update(cueId: string, body: RequestBody<"/v1/cues/{cue_id}", "patch">, o?: RequestOptions) {
    return this.t.call("patch", "/v1/cues/{cue_id}", { path: { cue_id: cueId }, body }, o);
  }
  pause(cueId: string, o?: RequestOptions) {
    return this.update(cueId, { status: "paused" }, o);
  }
  resume(cueId: string, o?: RequestOptions) {
    return this.update(cueId, { status: "active" }, o);
  }
  /** Deletes the cue and all its executions. */
  async delete(cueId: string, o?: RequestOptions): Promise<void> {
    await this.t.call("delete", "/v1/cues/{cue_id}", { path: { cue_id: cueId } }, o);
  }
  /** Creates an execution due now, whatever the cue's status. */
  fire(cueId: string, o?: RequestOptions) {
    return this.t.call("post", "/v1/cues/{cue_id}/fire", { path: { cue_id: cueId } }, o);
  }
}

export interface HeartbeatOptions extends RequestOptions {
  /** When set, the server checks it against the claiming worker (403 otherwise). */
  workerId?: string;
}

export class ExecutionsResource {
  constructor(private readonly t: Transport) {}
  list(query: QueryParams<"/v1/executions", "get"> = {}, o?: RequestOptions) {
    return this.t.call("get", "/v1/executions", { query }, o);
  }
  get(executionId: string, o?: RequestOptions) {
    return this.t.call("get", "/v1/executions/{execution_id}", { path: { execution_id: executionId } }, o);
  }
  /** Pending worker executions, oldest first (at most 50), optionally of one payload `task`. */
  listClaimable(query: QueryParams<"/v1/executions/claimable", "get"> = {}, o?: RequestOptions) {
    return this.t.call("get", "/v1/executions/claimable", { query }, o);
  }
  /** Claims one execution by id (409 ConflictError when it is not available). */
  claim(executionId: string, workerId: string, o?: RequestOptions) {
    const body = { worker_id: workerId };
    return this.t.call("post", "/v1/executions/{execution_id}/claim", { path: { execution_id: executionId }, body }, o);
  }
  /** Claims the oldest pending worker execution (409 ConflictError when there is none). */
  claimNext(workerId: string, o?: RequestOptions) {
    return this.t.call("post", "/v1/executions/claim", { body: { worker_id: workerId } }, o);
  }
  /** Extends the lease of a claimed execution. */
  heartbeat(executionId: string, o: HeartbeatOptions = {}) {
    const { workerId, ...rest } = o;
    return this.t.call(
      "post",
      "/v1/executions/{execution_id}/heartbeat",
      { path: { execution_id: executionId }, headers: { "X-Worker-Id": workerId } },
      rest,
    );
  }
  /** Records the outcome (write-once: 409 ConflictError the second time). */
  reportOutcome(executionId: string, body: RequestBody<"/v1/executions/{execution_id}/outcome", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/executions/{execution_id}/outcome", { path: { execution_id: executionId }, body }, o);
  }
  replay(executionId: string, o?: RequestOptions) {
    return this.t.call("post", "/v1/executions/{execution_id}/replay", { path: { execution_id: executionId } }, o);
  }
  /** Accepts (default) or rejects the reported outcome. */
  verify(executionId: string, body: RequestBody<"/v1/executions/{execution_id}/verify", "post"> = { valid: true }, o?: RequestOptions) {
    return this.t.call("post", "/v1/executions/{execution_id}/verify", { path: { execution_id: executionId }, body }, o);
  }
  markVerificationPending(executionId: string, o?: RequestOptions) {
    return this.t.call("post", "/v1/executions/{execution_id}/verification-pending", { path: { execution_id: executionId } }, o);
  }
  updateEvidence(executionId: string, body: RequestBody<"/v1/executions/{execution_id}/evidence", "patch">, o?: RequestOptions) {
    return this.t.call("patch", "/v1/executions/{execution_id}/evidence", { path: { execution_id: executionId }, body }, o);
  }
}

export class WorkersResource {
  constructor(private readonly t: Transport) {}
  /** The worker daemon's liveness heartbeat (upserts the worker). */
  heartbeat(body: RequestBody<"/v1/worker/heartbeat", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/worker/heartbeat", { body }, o);
  }
  list(o?: RequestOptions) {
    return this.t.call("get", "/v1/workers", {}, o);
  }
  async delete(workerId: string, o?: RequestOptions): Promise<void> {
    await this.t.call("delete", "/v1/workers/{worker_id}", { path: { worker_id: workerId } }, o);
  }
}

export class UsageResource {
  constructor(private readonly t: Transport) {}
  get(o?: RequestOptions) {
    return this.t.call("get", "/v1/usage", {}, o);
  }
}

export class AlertsResource {
  constructor(private readonly t: Transport) {}
  list(query: QueryParams<"/v1/alerts", "get"> = {}, o?: RequestOptions) {
    return this.t.call("get", "/v1/alerts", { query }, o);
  }
}

export class EchoResource {
  constructor(private readonly t: Transport) {}
  store(token: string, payload: RequestBody<"/v1/echo/{token}", "post">, o?: RequestOptions) {
    return this.t.call("post", "/v1/echo/{token}", { path: { token }, body: payload }, o);
  }
  retrieve(token: string, o?: RequestOptions) {
    return this.t.call("get", "/v1/echo/{token}", { path: { token } }, o);
  }
}

/** The CueAPI client: `new CueAPI({ apiKey, baseUrl })`. */
export class CueAPI {
  readonly auth: AuthResource;
  readonly cues: CuesResource;
  readonly executions: ExecutionsResource;
  readonly workers: WorkersResource;
  readonly usage: UsageResource;
  readonly alerts: AlertsResource;
  readonly echo: EchoResource;
  private readonly t: Transport;

  constructor(options: ClientOptions = {}) {
    this.t = new Transport(options);
    this.auth = new AuthResource(this.t);
    this.cues = new CuesResource(this.t);
    this.executions = new ExecutionsResource(this.t);
    this.workers = new WorkersResource(this.t);
    this.usage = new UsageResource(this.t);
    this.alerts = new AlertsResource(this.t);
    this.echo = new EchoResource(this.t);
  }

  get baseUrl(): string {
    return this.t.baseUrl;
  }

  /** Detailed health report (no auth). */
  health(o?: RequestOptions) {
    return this.t.call("get", "/health", {}, o);
  }

  /** Readiness: `healthy`/`degraded` (200) or `down` (503, returned rather than thrown). */
  status(o?: RequestOptions): Promise<SuccessBody<"/status", "get">> {
    return this.t.call("get", "/status", { okStatuses: [503] }, o);
  }
}
