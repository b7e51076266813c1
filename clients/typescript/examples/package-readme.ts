// The examples of clients/typescript/README.md, kept compiling by
// `tsc -p tsconfig.examples.json` (imports point at the sources).
import { createServer } from "node:http";
import { CueAPI } from "../src/index.js";
import { verifyWebhook, WebhookVerificationError } from "../src/webhook-entry.js";

const anon = new CueAPI({ baseUrl: "http://127.0.0.1:8000" });
const { api_key } = await anon.auth.register({ email: "me@example.com" });

const cueapi = new CueAPI({ apiKey: api_key, baseUrl: "http://127.0.0.1:8000" });
const cue = await cueapi.cues.create({
  name: "sync",
  transport: "worker",
  schedule: { type: "recurring", cron: "*/15 * * * *" },
  payload: { task: "sync" },
});
void cue;

// a pull worker
await cueapi.workers.heartbeat({ worker_id: "laptop", handlers: ["sync"] });
const { executions } = await cueapi.executions.listClaimable({ task: "sync" });
const job = executions[0];
if (job) {
  await cueapi.executions.claim(job.execution_id, "laptop");
  await cueapi.executions.heartbeat(job.execution_id, { workerId: "laptop" }); // extend the lease
  await cueapi.executions.reportOutcome(job.execution_id, { success: true, result: "42 rows" });
}

const secret = (await cueapi.auth.webhookSecret()).webhook_secret; // whsec_…
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c) => chunks.push(c)).on("end", () => {
    try {
      const run = verifyWebhook(Buffer.concat(chunks), req.headers, secret, { toleranceSeconds: 300 });
      res.writeHead(200).end(); // then handle run.payload; de-duplicate on (execution_id, attempt)
    } catch (e) {
      res.writeHead(e instanceof WebhookVerificationError ? 401 : 500).end();
    }
  });
}).listen(3000);
