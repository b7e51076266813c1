// Starts a real `cueapi serve` built from this checkout: embedded SQLite in a
// temp dir, a free loopback port, loopback webhook receivers allowed.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository root (the directory holding go.mod above this file). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, "go.mod")) && existsSync(join(dir, "openapi.yaml"))) return dir;
    dir = resolve(dir, "..");
  }
  throw new Error("repository root (go.mod) not found above " + fileURLToPath(import.meta.url));
}

let built: Promise<string> | undefined;

/** Path of the cueapi binary: $CUEAPI_BIN, or `go build ./cmd/cueapi` into a temp dir (once per process). */
export function cueapiBinary(): Promise<string> {
  if (process.env.CUEAPI_BIN) return Promise.resolve(process.env.CUEAPI_BIN);
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "cueapi-ts-bin-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const bin = join(dir, "cueapi");
    await run("go", ["build", "-o", bin, "./cmd/cueapi"], { cwd: repoRoot(), timeout: 600_000 });
    return bin;
  })();
  return built;
}

export interface Server {
  baseUrl: string;
  /** The last lines the process logged (for failure messages). */
  log: string[];
  stop(): Promise<void>;
}

/** Starts `cueapi serve` and resolves once it logged its listening address (at most 60 s). */
export async function startServer(env: Record<string, string> = {}): Promise<Server> {
  const bin = await cueapiBinary();
  const dataDir = mkdtempSync(join(tmpdir(), "cueapi-ts-data-"));
  const child: ChildProcess = spawn(bin, ["serve"], {
    env: {
      ...process.env,
      ENV: "development",
      HOST: "127.0.0.1",
      PORT: "0",
      CUEAPI_DATA_DIR: dataDir,
      DATABASE_URL: "",
      REDIS_URL: "",
      SESSION_SECRET: "ts-client-test-secret-0123456789abcdef",
      WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
      WEBHOOK_TIMEOUT_SECONDS: "5",
      DEFAULT_RATE_LIMIT_PER_MINUTE: "10000",
      DEFAULT_ACTIVE_CUE_LIMIT: "100",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("cueapi did not start listening within 60 s:\n" + log.join("\n"))), 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`cueapi exited (${code}) before listening:\n${log.join("\n")}`));
    });
    createInterface({ input: child.stderr! }).on("line", (line) => {
      log.push(line);
      if (log.length > 200) log.shift();
      try {
        const rec = JSON.parse(line) as { msg?: string; addr?: string };
        if (rec.msg === "cueapi listening" && rec.addr) {
          clearTimeout(timer);
          resolve(rec.addr);
        }
      } catch {
        // not a JSON log line
      }
    });
  });
  return {
    baseUrl: `http://${addr}`,
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
