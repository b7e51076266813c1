// Typed errors. Every non-2xx answer of the API carries the envelope
// {"error": {"code", "message", "status", "details"?}}; it becomes a
// CueAPIError subclass chosen by the HTTP status.
import type { ErrorDetail } from "./types.js";

export interface CueAPIErrorInit {
  status: number;
  code: string;
  message: string;
  details?: ErrorDetail[];
  body?: unknown;
  requestId?: string;
  retryAfterSeconds?: number;
}

/** An error answer of the API (any non-2xx status). */
export class CueAPIError extends Error {
  /** HTTP status of the answer (the envelope's `status` when present agrees). */
  readonly status: number;
  /** Machine-readable snake_case code, e.g. `cue_not_found`. */
  readonly code: string;
  /** Per-field problems of a `validation_error`. */
  readonly details: ErrorDetail[];
  /** The parsed response body (or its text when it was not JSON). */
  readonly body: unknown;
  /** The answer's `X-Request-Id`, for support and logs. */
  readonly requestId: string | undefined;
  /** Seconds from `Retry-After` (429 from the global limiter, some 503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(init: CueAPIErrorInit) {
    super(init.message);
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.body = init.body;
    this.requestId = init.requestId;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** 400: malformed JSON, missing confirmation, refused URL, bad schedule… */
export class BadRequestError extends CueAPIError {}
/** 401: missing, unknown, rotated or expired credentials. */
export class AuthenticationError extends CueAPIError {}
/** 403: plan limit reached or not the owner of a claimed execution. */
export class PermissionDeniedError extends CueAPIError {}
/** 404: unknown (or another account's) resource. */
export class NotFoundError extends CueAPIError {}
/** 409: duplicate name, claim lost, outcome already recorded, … */
export class ConflictError extends CueAPIError {}
/** 413: request body over 1 MiB. */
export class PayloadTooLargeError extends CueAPIError {}
/** 422: the request does not match the contract; see `details`. */
export class ValidationError extends CueAPIError {}
/** 429: rate limited; `retryAfterSeconds` when the server said when to retry. */
export class RateLimitError extends CueAPIError {}
/** 5xx: server-side failure or a backing service unavailable (503). */
export class ServerError extends CueAPIError {}

/** The request did not get an HTTP answer (network failure or timeout). */
export class ConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

const byStatus: Record<number, typeof CueAPIError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: ValidationError,
  429: RateLimitError,
};

/** Parses a Retry-After value (delta seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Builds the typed error for a non-2xx answer from its status, body text and headers. */
export function errorFromResponse(status: number, text: string, headers: Headers): CueAPIError {
  let body: unknown = text;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    // not JSON (a proxy's HTML page, say): keep the text
  }
  const env = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const code = env && typeof env.code === "string" ? env.code : "unknown";
  const fallback = typeof body === "string" && body !== "" ? body.slice(0, 500) : `HTTP ${status}`;
  const message = env && typeof env.message === "string" ? env.message : fallback;
  const details = env && Array.isArray(env.details) ? (env.details as ErrorDetail[]) : undefined;
  const Cls = byStatus[status] ?? (status >= 500 ? ServerError : CueAPIError);
  return new Cls({
    status,
    code,
    message,
    details,
    body,
    requestId: headers.get("x-request-id") ?? undefined,
    retryAfterSeconds: parseRetryAfter(headers.get("retry-after")),
  });
}
