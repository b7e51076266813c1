// Compile-only test (`tsc -p tsconfig.examples.json`, part of `npm test`):
// correct usage compiles, and each `@ts-expect-error` line must be refused
// by the generated types — if a type stopped catching the mistake, tsc
// would report the directive as unused and the test would fail.
import { CueAPI, type Cue, type ExecutionStatus } from "../src/index.js";
import { verifyWebhook, type WebhookDelivery } from "../src/webhook-entry.js";

export async function example(cueapi: CueAPI): Promise<void> {
  const cue: Cue = await cueapi.cues.create({
    name: "nightly-report",
    schedule: { type: "recurring", cron: "0 3 * * *", timezone: "Europe/Berlin" },
    callback: { url: "https://agent.example.com/run", method: "POST" },
    payload: { task: "report", depth: 2 },
    retry: { max_attempts: 5, backoff_minutes: [1, 5] },
    verification: { mode: "require_external_id" },
    catch_up: "skip",
  });
  const status: "active" | "paused" | "completed" | "failed" = cue.status;
  const nextRun: string | null = cue.next_run;
  void status;
  void nextRun;

  await cueapi.cues.create({
    name: "typo",
    schedule: { type: "once", at: "2030-01-01T00:00:00Z" },
    // @ts-expect-error misspelled field: `callbak` is not in CreateCueRequest
    callbak: { url: "https://agent.example.com/run" },
  });

  await cueapi.cues.create({
    name: "bad-transport",
    schedule: { type: "once", at: "2030-01-01T00:00:00Z" },
    // @ts-expect-error wrong enum value: transport is "webhook" | "worker"
    transport: "email",
  });

  await cueapi.cues.create({
    name: "bad-verification",
    schedule: { type: "once", at: "2030-01-01T00:00:00Z" },
    // @ts-expect-error wrong enum value for verification.mode
    verification: { mode: "always" },
  });

  // @ts-expect-error `name` and `schedule` are required
  await cueapi.cues.create({ description: "no name" });

  const list = await cueapi.cues.list({ status: "paused", limit: 10 });
  for (const c of list.cues) {
    // @ts-expect-error misspelled response field: `nextRun` is `next_run`
    void c.nextRun;
  }

  // @ts-expect-error wrong enum value in a comparison the types can see is impossible
  if (cue.transport === "email") return;

  const execs = await cueapi.executions.list({ cue_id: cue.id, limit: 5 });
  const s: ExecutionStatus = execs.executions[0].status;
  // @ts-expect-error "done" is not an ExecutionStatus
  const wrong: ExecutionStatus = "done";
  void s;
  void wrong;

  await cueapi.executions.reportOutcome("id", { success: true, result: "ok", external_id: "x-1" });
  // @ts-expect-error `success` must be a boolean
  await cueapi.executions.reportOutcome("id", { success: "yes" });
  // @ts-expect-error misspelled outcome field: `externalId` is `external_id`
  await cueapi.executions.reportOutcome("id", { success: true, externalId: "x-1" });

  // @ts-expect-error a query parameter the operation does not declare
  await cueapi.cues.list({ sort: "name" });

  const deleted: void = await cueapi.cues.delete(cue.id);
  void deleted;

  const event: WebhookDelivery = verifyWebhook("{}", {}, "whsec_x");
  void event.execution_id;
}
