// Verifying the signed webhooks cueapi sends (api.md §6.1-6.2, SECURITY.md
// "Webhook signing"): X-CueAPI-Signature is `v1=` + hex HMAC-SHA256, keyed
// with the UTF-8 bytes of the whole `whsec_…` secret, over
// `<X-CueAPI-Timestamp>.<canonical JSON body>`.
import { createHmac, timingSafeEqual } from "node:crypto";
import { CanonicalJSONError, canonicalJSON } from "./canonical.js";

/** The body of an execution webhook (the same keys for every attempt). */
export interface WebhookDelivery {
  execution_id: string;
  cue_id: string;
  /** The cue's name. */
  name: string;
  /** `+00:00` form, same as the X-CueAPI-Scheduled-For header. */
  scheduled_for: string;
  /** 1 for the first attempt, then 2, 3, … */
  attempt: number;
  payload: Record<string, unknown>;
}

export type WebhookFailure =
  | "missing_signature"
  | "missing_timestamp"
  | "invalid_timestamp"
  | "timestamp_outside_tolerance"
  | "invalid_body"
  | "signature_mismatch";

/** Thrown by verifyWebhook; `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: WebhookFailure,
    message: string,
  ) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Request headers as Node (IncomingMessage.headers), fetch (Headers) or a plain object give them. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** Largest accepted distance between X-CueAPI-Timestamp and now, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The clock (ms since the epoch or a Date); default Date.now(). */
  now?: number | Date;
}

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== want || v === undefined) continue;
    return Array.isArray(v) ? v.join(", ") : v;
  }
  return undefined;
}

function toBytes(raw: string | Uint8Array): Buffer {
  return typeof raw === "string" ? Buffer.from(raw, "utf8") : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
}

function hmac(secret: string, timestamp: string, body: Buffer): Buffer {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(`${timestamp}.`).update(body).digest();
}

/** Whether want equals any of the given signatures (constant time per comparison). */
function matches(want: Buffer, given: Buffer[]): boolean {
  let ok = false;
  for (const sig of given) ok = timingSafeEqual(want, sig) || ok;
  return ok;
}

/** The signature header value for body signed at timestamp (Unix seconds). */
export function signWebhook(rawBody: string | Uint8Array, secret: string, timestamp: number | string): string {
  return `v1=${hmac(secret, String(timestamp), toBytes(rawBody)).toString("hex")}`;
}

/**
 * Checks a webhook request and returns its parsed body. Pass the body exactly
 * as received (the raw bytes or text, not a re-serialized object). Throws
 * WebhookVerificationError when the signature or timestamp header is
 * missing, the timestamp is more than toleranceSeconds away from now, or no
 * `v1=` signature matches (compared with crypto.timingSafeEqual). A body a
 * proxy re-encoded still verifies: it is checked as received, then in its
 * canonical form.
 */
export function verifyWebhook<T = WebhookDelivery>(
  rawBody: string | Uint8Array,
  headers: HeaderSource,
  secret: string,
  options: VerifyOptions = {},
): T {
  const sigHeader = header(headers, "x-cueapi-signature");
  if (!sigHeader) throw new WebhookVerificationError("missing_signature", "missing X-CueAPI-Signature header");
  const ts = header(headers, "x-cueapi-timestamp")?.trim();
  if (!ts) throw new WebhookVerificationError("missing_timestamp", "missing X-CueAPI-Timestamp header");
  if (!/^\d{1,12}$/.test(ts)) throw new WebhookVerificationError("invalid_timestamp", "X-CueAPI-Timestamp is not Unix seconds");

  const tolerance = options.toleranceSeconds ?? 300;
  const nowMs = options.now === undefined ? Date.now() : typeof options.now === "number" ? options.now : options.now.getTime();
  if (Math.abs(Math.floor(nowMs / 1000) - Number(ts)) > tolerance) {
    throw new WebhookVerificationError("timestamp_outside_tolerance", `X-CueAPI-Timestamp is more than ${tolerance} s from now`);
  }

  const given = sigHeader
    .split(/[,\s]+/)
    .filter((p) => p.startsWith("v1=") && /^[0-9a-fA-F]{64}$/.test(p.slice(3)))
    .map((p) => Buffer.from(p.slice(3), "hex"));
  if (given.length === 0) throw new WebhookVerificationError("missing_signature", "X-CueAPI-Signature has no v1= signature");

  const raw = toBytes(rawBody);
  if (!matches(hmac(secret, ts, raw), given)) {
    // Not the bytes cueapi signed: accept a re-encoding of the same JSON.
    let canonical: Buffer;
    try {
      canonical = Buffer.from(canonicalJSON(raw), "utf8");
    } catch (e) {
      const why = e instanceof CanonicalJSONError ? e.message : String(e);
      throw new WebhookVerificationError("invalid_body", `body is not canonical-JSON-able: ${why}`);
    }
    if (canonical.equals(raw) || !matches(hmac(secret, ts, canonical), given)) {
      throw new WebhookVerificationError("signature_mismatch", "X-CueAPI-Signature does not match the body");
    }
  }
  return JSON.parse(raw.toString("utf8")) as T;
}
