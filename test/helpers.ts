// Starts real MoltStack servers for the tests (port 0, in memory or on the CI's Postgres + Redis) and makes agents.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// bun:test, not "vitest": `bun run fuzz` loads these helpers outside the test runner, where "vitest" does not resolve.
import { afterAll, beforeAll } from "bun:test";
import { type AgentClient, type ApiResponse, call, type RequestOptions, registerAgent } from "../src/client/agent.ts";
import { loadConfig } from "../src/config.ts";
import { type Database, openDatabase } from "../src/db/client.ts";
import { startingSnapshot } from "../src/db/snapshot.ts";
import type { Clock } from "../src/lib/clock.ts";
import { type Running, startServer } from "../src/server.ts";

export const onPostgres = Boolean(process.env.DATABASE_URL);

/**
 * A migrated empty database (src/db/snapshot.ts): loading it (~0.3 s) is much cheaper than initdb (~4 s). Unzipped
 * once per process (a plain tar is what PGlite unpacks without gunzipping it first): the suite starts dozens of servers.
 */
let unzipped: Promise<Blob> | undefined;
const migratedSnapshot = () =>
  (unzipped ??= startingSnapshot().then(async (gzip) => new Blob([Bun.gunzipSync(new Uint8Array(await gzip.arrayBuffer()))])));

/** A fresh embedded database, already migrated, for checks that need one of their own (no server around it). */
export async function migratedDatabase(): Promise<Database> {
  return openDatabase({ dataDir: "memory:", snapshot: await migratedSnapshot() });
}

export type TestServer = Running & {
  /** Registers and verifies a new agent with a unique username built from `name`. */
  agent(name: string, extra?: Parameters<typeof registerAgent>[2]): Promise<AgentClient>;
  call<T = any>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
};

export type ServerOptions = {
  env?: Record<string, string>;
  args?: string[];
  /** A data dir on disk (for restart tests); default: in memory. */
  dataDir?: string;
  /** Share rate-limit counters and pub/sub with another test server (Redis only). */
  redisPrefix?: string;
  /** The server's clock: `manualClock()` stands still until the test advances it (default: the system clock). */
  clock?: Clock;
};

const permissive = {
  MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: "100000",
  MOLTSTACK_LIMIT_API_PER_MINUTE: "100000",
  MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "100000",
  MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "100000",
  MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR: "100000",
  MOLTSTACK_LIMIT_SERVERS_PER_DAY: "100000",
};

export async function testServer(options: ServerOptions = {}): Promise<TestServer> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...permissive,
    MOLTSTACK_REDIS_PREFIX: options.redisPrefix ?? `${process.env.MOLTSTACK_REDIS_PREFIX ?? "moltstack-test:"}${crypto.randomUUID()}:`,
    ...options.env,
  };
  const config = loadConfig(["--port", "0", "--data-dir", options.dataDir ?? "memory:", ...(options.args ?? [])], env);
  const running = await startServer(config, { snapshot: config.databaseUrl ? undefined : await migratedSnapshot(), clock: options.clock });
  let n = 0;
  return Object.assign(running, {
    agent: (name: string, extra?: Parameters<typeof registerAgent>[2]) => registerAgent(running.url, uniqueName(name, n++), extra),
    call: <T = any>(method: string, path: string, body?: unknown, opts?: RequestOptions) => call<T>(running.url, method, path, body, opts),
  });
}

/**
 * The test server of a file (or of a describe block, when called inside one): started before its tests, stopped after
 * them. Use the handle inside tests and hooks, not at the top level: it answers once the server is up.
 */
export function useServer(options: ServerOptions = {}): TestServer {
  let running: TestServer | undefined;
  beforeAll(async () => {
    running = await testServer(options);
  });
  afterAll(async () => {
    await running?.stop();
  });
  // Stands for the server that beforeAll starts; only its properties are ever read.
  return new Proxy({} as TestServer, {
    get(_, key) {
      if (!running) throw new Error("useServer(): the server starts in beforeAll; use it inside tests and hooks");
      const value = Reflect.get(running, key);
      return typeof value === "function" ? value.bind(running) : value;
    },
  });
}

/**
 * Runs `check` until it neither throws nor answers undefined or false, and answers what it answered; past `timeout` ms
 * (default 15 s) it throws the last failure. For what a client sees change on its own: a retry, a wake, a lock.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeout = 15_000, interval = 25, what = "a condition" }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    let failure: unknown;
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
      failure = new Error(`timed out after ${timeout} ms waiting for ${what}`);
    } catch (e) {
      failure = e;
    }
    if (Date.now() > deadline) throw failure;
    await Bun.sleep(interval);
  }
}

/** Usernames are unique across servers that share one Postgres database. */
export function uniqueName(name: string, n = 0): string {
  const suffix = `${Date.now().toString(36).slice(-4)}${Math.random().toString(36).slice(2, 6)}${n}`;
  return `${name.toLowerCase().slice(0, 32 - suffix.length - 1)}_${suffix}`;
}

export function tempDir(prefix = "moltstack-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Starts `moltstack serve` as its own process and waits for the line that names its URL. */
export async function serveProcess(command: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const proc = Bun.spawn(command, {
    cwd: options.cwd,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", ...options.env },
  });
  const reader = proc.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 60_000;
  while (!/listening on (\S+)/.test(out) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const url = /listening on (\S+)/.exec(out)?.[1];
  if (!url) throw new Error(`server did not start: ${out} ${await new Response(proc.stderr).text()}`);
  return { proc, url, out };
}
