// The README's example, kept compiling by `tsc -p tsconfig.examples.json`
// (imports point at the sources instead of "@cueapi/client").
import type { IncomingMessage } from "node:http";
import { CueAPI } from "../src/index.js";
import { verifyWebhook } from "../src/webhook-entry.js";

declare const rawBody: Buffer;
declare const req: IncomingMessage;
declare const secret: string;

const cueapi = new CueAPI({ apiKey: process.env.CUEAPI_API_KEY, baseUrl: "http://127.0.0.1:8000" });
const cue = await cueapi.cues.create({
  name: "nightly-report",
  schedule: { type: "recurring", cron: "0 3 * * *", timezone: "Europe/Berlin" },
  callback: { url: "https://agent.example.com/run" },
});
// in the receiver: throws unless signed with your whsec_ secret less than 300 s ago
const run = verifyWebhook(rawBody, req.headers, secret, { toleranceSeconds: 300 });
await cueapi.executions.reportOutcome(run.execution_id, { success: true, result: "sent" });
void cue;
