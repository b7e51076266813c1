// "@cueapi/client/webhook": verifying signed webhook deliveries (Node).
export { verifyWebhook, signWebhook, WebhookVerificationError } from "./webhook.js";
export type { WebhookDelivery, WebhookFailure, HeaderSource, VerifyOptions } from "./webhook.js";
export { canonicalJSON, CanonicalJSONError } from "./canonical.js";
