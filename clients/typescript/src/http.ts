// The transport: fetch, JSON, typed errors, and bounded retries of 429/503.
import { ConnectionError, CueAPIError, errorFromResponse } from "./errors.js";
import type { Method, Path, PathParams, QueryParams, RequestBody, SuccessBody } from "./types.js";

export const VERSION = "0.1.0";

export interface ClientOptions {
  /** API key (`cue_sk_…`) or session JWT. Not needed for register, health and the device-code flow. */
  apiKey?: string;
  /** Default `https://api.cueapi.ai`. */
  baseUrl?: string;
  /** Per-attempt timeout in milliseconds; default 30000. */
  timeoutMs?: number;
  /** Retries after a 429 or 503 answer (0 disables, at most 10); default 2. */
  maxRetries?: number;
  /** First backoff step when the answer has no Retry-After; doubles per retry; default 500 ms. */
  retryBaseDelayMs?: number;
  /** Longest wait before a retry; an answer asking for longer is thrown at once; default 60000 ms. */
  maxRetryDelayMs?: number;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** A fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** How to wait between retries; default a timer (a test can record the delays instead). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RequestOptions {
  /** Cancels the request (and any wait before a retry). */
  signal?: AbortSignal;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
}

interface CallArgs<P extends Path, M extends Method> {
  path?: PathParams<P, M>;
  query?: QueryParams<P, M>;
  body?: RequestBody<P, M>;
  headers?: Record<string, string | undefined>;
  /** Non-2xx statuses whose body is a result, not an error (`/status` 503). */
  okStatuses?: number[];
}

const MAX_RETRIES = 10;

function parseSuccess(res: Response, text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new CueAPIError({
      status: res.status,
      code: "invalid_response",
      message: `HTTP ${res.status} answer is not JSON`,
      body: text,
      requestId: res.headers.get("x-request-id") ?? undefined,
    });
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export class Transport {
  readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? "https://api.cueapi.ai").replace(/\/+$/, "");
    this.apiKey = opts.apiKey;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxRetries = Math.min(MAX_RETRIES, Math.max(0, Math.floor(opts.maxRetries ?? 2)));
    this.retryBaseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 60_000;
    this.headers = { ...opts.headers };
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("no fetch implementation: pass options.fetch");
    this.fetchImpl = f;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  /** Calls `method path` of the contract and returns the typed 2xx body. */
  async call<P extends Path, M extends Method>(
    method: M,
    path: P,
    args: CallArgs<P, M> = {},
    opts: RequestOptions = {},
  ): Promise<SuccessBody<P, M>> {
    const url = this.url(path, args.path as Record<string, string> | undefined, args.query as Record<string, unknown>);
    const headers: Record<string, string> = { Accept: "application/json", ...this.headers };
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    for (const [k, v] of Object.entries({ ...args.headers, ...opts.headers })) if (v !== undefined) headers[k] = v;
    let payload: string | undefined;
    if (args.body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(args.body);
    }
    for (let attempt = 0; ; attempt++) {
      const { res, text } = await this.send(url, method.toUpperCase(), headers, payload, opts.signal);
      if (res.ok || args.okStatuses?.includes(res.status)) {
        return parseSuccess(res, text) as SuccessBody<P, M>;
      }
      const err = errorFromResponse(res.status, text, res.headers);
      const delay = this.retryDelay(err, attempt);
      if (delay === undefined) throw err;
      await this.sleep(delay, opts.signal);
    }
  }

  /** Milliseconds to wait before retrying after err, or undefined to give up. */
  private retryDelay(err: CueAPIError, attempt: number): number | undefined {
    if ((err.status !== 429 && err.status !== 503) || attempt >= this.maxRetries) return undefined;
    if (err.retryAfterSeconds !== undefined) {
      const ms = err.retryAfterSeconds * 1000;
      return ms > this.maxRetryDelayMs ? undefined : ms;
    }
    const step = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    return Math.round(step / 2 + (Math.random() * step) / 2);
  }

  /** One attempt: the answer and its body text, within timeoutMs. */
  private async send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal?: AbortSignal,
  ): Promise<{ res: Response; text: string }> {
    // One controller aborted by the caller's signal or the timeout
    // (AbortSignal.any is not available everywhere yet).
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, this.timeoutMs);
    const onAbort = () => ctrl.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const res = await this.fetchImpl(url, { method, headers, body, signal: ctrl.signal });
      return { res, text: await res.text() };
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const why = timedOut ? `timed out after ${this.timeoutMs} ms` : e instanceof Error ? e.message : String(e);
      throw new ConnectionError(`${method} ${url}: ${why}`, { cause: e });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private url(template: string, params: Record<string, string> | undefined, query: Record<string, unknown> | undefined): string {
    const path = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
      const v = params?.[name];
      if (v === undefined || v === "") throw new TypeError(`missing path parameter ${name}`);
      return encodeURIComponent(String(v));
    });
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) qs.append(k, String(v));
    const q = qs.toString();
    return this.baseUrl + path + (q ? `?${q}` : "");
  }
}
