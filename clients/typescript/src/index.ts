// The client (browser-safe: fetch only). Webhook verification needs
// node:crypto and lives in "@cueapi/client/webhook" (src/webhook.ts).
export { CueAPI, AuthResource, CuesResource, ExecutionsResource, WorkersResource, UsageResource, AlertsResource, EchoResource } from "./client.js";
export type { HeartbeatOptions } from "./client.js";
export { VERSION } from "./http.js";
export type { ClientOptions, RequestOptions } from "./http.js";
export {
  CueAPIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  PayloadTooLargeError,
  ValidationError,
  RateLimitError,
  ServerError,
  ConnectionError,
} from "./errors.js";
export type * from "./types.js";
