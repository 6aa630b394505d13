// Shared pieces of the benchmarks: command-line options, the server under test (a child process, or --url),
// agents registered with bounded concurrency, percentiles, CPU accounting and tables.
// The benchmarks only ever talk to 127.0.0.1 / localhost.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type AgentClient, registerAgent } from "../src/client/agent.ts";

export const repoRoot = join(import.meta.dir, "..");

/** Limits high enough that the benchmark measures the server, not its rate limiter. */
export const benchLimits: Record<string, string> = {
  MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: "10000000",
  MOLTSTACK_LIMIT_API_PER_MINUTE: "100000000",
  MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "100000000",
  MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "100000000",
  MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR: "10000000",
  MOLTSTACK_LIMIT_SERVERS_PER_DAY: "10000000",
};

// ---------------------------------------------------------------- options

export type OptionSpec = Record<string, { default: string | number | boolean; help: string }>;

export function parseOptions<S extends OptionSpec>(
  name: string,
  summary: string,
  spec: S,
  argv = process.argv.slice(2),
): { [K in keyof S]: S[K]["default"] extends number ? number : S[K]["default"] extends boolean ? boolean : string } {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  const usage = () =>
    [
      `usage: bun bench/${name} [options]`,
      summary,
      "",
      ...Object.entries(spec).map(([k, v]) => `  --${k.padEnd(14)} ${v.help} (default: ${v.default === "" ? "unset" : v.default})`),
    ].join("\n");
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      console.log(usage());
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const key = m?.[1];
    if (!m || !key || !(key in spec)) {
      console.error(`unknown option ${arg}\n\n${usage()}`);
      process.exit(2);
    }
    const def = spec[key].default;
    if (typeof def === "boolean") {
      out[key] = m[2] === undefined ? true : ["1", "true", "yes", "on"].includes(m[2]);
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) {
      console.error(`option --${key} needs a value`);
      process.exit(2);
    }
    if (typeof def === "number") {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) {
        console.error(`option --${key} needs a non-negative number, got ${value}`);
        process.exit(2);
      }
      out[key] = n;
    } else out[key] = value;
  }
  return out as any;
}

/** --url must point at this machine: the benchmarks never send load anywhere else. */
export function loopbackUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url ${raw} is not a URL`);
  }
  if (url.protocol !== "http:") throw new Error("--url must be http:// (loopback only)");
  if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) {
    throw new Error(`--url must be a loopback address (127.0.0.1, localhost or [::1]), not ${url.hostname}`);
  }
  return url.origin;
}

// ---------------------------------------------------------------- the server under test

export type Target = {
  url: string;
  mode: string;
  /** The child's pid, when the benchmark started the server itself. */
  pid?: number;
  /** The commit of the code the child runs (`+dirty` when src/ or migrations/ have uncommitted changes). */
  commit: string;
  stop(): Promise<void>;
};

/** Undone in reverse order when the benchmark is interrupted (SIGINT/SIGTERM). */
const cleanups: (() => Promise<void>)[] = [];
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, async () => {
    if (interrupted) return;
    interrupted = true;
    for (const undo of [...cleanups].reverse()) await undo().catch(() => {});
    process.exit(130);
  });
}

/**
 * Starts `bun src/main.ts serve --port 0` as a child process with high limits, or uses `--url`.
 * With `postgres`, the child runs on a scratch database of the local PostgreSQL and the local Redis; otherwise the
 * environment passes through (DATABASE_URL + REDIS_URL + MOLTSTACK_JWT_SECRET select Postgres + Redis mode) and
 * without DATABASE_URL the child runs embedded with `--data-dir memory:`.
 */
export async function startTarget(
  opts: { url?: string; postgres?: boolean; env?: Record<string, string>; dataDir?: string } = {},
): Promise<Target> {
  if (opts.url) {
    const url = loopbackUrl(opts.url);
    const res = await fetch(new URL("/healthz", url)).catch(() => undefined);
    if (!res) throw new Error(`nothing answers at ${url}`);
    return { url, mode: "external (--url)", commit: "unknown (--url)", stop: async () => {} };
  }
  const scratch = opts.postgres ? await scratchDatabase() : undefined;
  try {
    const target = await spawnServer({ ...opts.env, ...scratch?.env }, opts.dataDir);
    if (!scratch) return target;
    return { ...target, stop: async () => (await target.stop(), await scratch.drop()) };
  } catch (e) {
    await scratch?.drop();
    throw e;
  }
}

/**
 * --postgres: a scratch database on the local PostgreSQL (BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
 * and the local Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379), dropped afterwards.
 */
export async function scratchDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const admin = new URL(process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
  const redis = new URL(process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379");
  for (const u of [admin, redis]) {
    if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname))
      throw new Error(`${u.protocol}// must be on loopback, not ${u.hostname}`);
  }
  const name = `moltstack_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  await sql.unsafe(`create database ${name}`);
  const dbUrl = new URL(admin);
  dbUrl.pathname = `/${name}`;
  progress(`scratch database ${name}`);
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await sql.unsafe(`drop database if exists ${name} with (force)`).catch((e) => progress(`could not drop ${name}: ${e.message}`));
    await sql.end();
  };
  cleanups.push(drop);
  return {
    env: {
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: redis.toString(),
      MOLTSTACK_JWT_SECRET: process.env.MOLTSTACK_JWT_SECRET ?? `bench-${crypto.randomUUID()}-${crypto.randomUUID()}`,
    },
    drop,
  };
}

async function spawnServer(extraEnv: Record<string, string> = {}, dataDir = "memory:"): Promise<Target> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...benchLimits, ...extraEnv };
  env.MOLTSTACK_REDIS_PREFIX ??= `moltstack-bench:${crypto.randomUUID()}:`;
  delete env.HOST;
  delete env.PORT;
  const args = ["src/main.ts", "serve", "--host", "127.0.0.1", "--port", "0"];
  if (!env.DATABASE_URL) args.push("--data-dir", dataDir);
  // BENCH_SERVER_BUN_ARGS passes flags to the server's bun, e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof".
  const bunArgs = (process.env.BENCH_SERVER_BUN_ARGS ?? "").split(/\s+/).filter(Boolean);
  const commit = serverCommit();
  const child = Bun.spawn([process.execPath, ...bunArgs, ...args], { cwd: repoRoot, env, stdout: "pipe", stderr: "pipe" });
  let stderrTail = "";
  (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      const text = dec.decode(chunk);
      stderrTail = (stderrTail + text).slice(-4000);
      if (process.env.BENCH_VERBOSE) process.stderr.write(`[server] ${text}`);
    }
  })().catch(() => {});

  const killChild = async () => {
    if (child.exitCode !== null || child.signalCode) return;
    child.kill("SIGTERM");
    const t = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.exited;
    clearTimeout(t);
  };
  // Kill the child however this process ends.
  const onExit = () => {
    try {
      child.kill("SIGKILL");
    } catch {}
  };
  process.once("exit", onExit);
  cleanups.push(killChild);

  const reader = child.stdout.getReader();
  const dec = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 60_000;
  const listening = () => /MoltStack listening on (http:\/\/\S+) \(([^)]+)\)/.exec(out);
  let line = listening();
  for (; !line; line = listening()) {
    if (Date.now() > deadline) {
      await killChild();
      throw new Error(`server did not start within 60 s; stdout: ${out}\nstderr: ${stderrTail}`);
    }
    const r = await Promise.race([reader.read(), child.exited.then(() => ({ done: true, value: undefined }))]);
    if (r.done) throw new Error(`server exited (${child.exitCode}) before listening; stderr: ${stderrTail}`);
    out += dec.decode(r.value);
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  const url = loopbackUrl(line[1]);
  return {
    url,
    mode: line[2],
    pid: child.pid,
    commit,
    async stop() {
      await killChild();
      process.off("exit", onExit);
    },
  };
}

// ---------------------------------------------------------------- agents

/** Runs `fn` over `items` with at most `limit` in flight; answers the results in order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function retry<T>(what: string, fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts) throw new Error(`${what}: ${(e as Error).message}`);
      await Bun.sleep(200 * i);
    }
  }
}

const runTag = `${Date.now().toString(36).slice(-5)}${Math.random().toString(36).slice(2, 5)}`;

/** Registers `count` agents (Ed25519 challenge-response) with bounded concurrency, printing progress. */
export async function registerMany(baseUrl: string, prefix: string, count: number, concurrency = 16): Promise<AgentClient[]> {
  const started = performance.now();
  let done = 0;
  const agents = await pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const agent = await retry(`register ${prefix}${i}`, () => registerAgent(baseUrl, `b${runTag}_${prefix}${i}`));
      done++;
      if (count >= 200 && done % 200 === 0) progress(`registered ${done}/${count} ${prefix} agents`);
      return agent;
    },
  );
  const s = (performance.now() - started) / 1000;
  progress(`registered ${count} ${prefix} agents in ${s.toFixed(1)} s (${(count / s).toFixed(0)}/s, concurrency ${concurrency})`);
  return agents;
}

/** Agents limit their own outbound acts (max_outbound_per_hour, default 100): posters raise theirs to the maximum. */
export const maxOutboundPerHour = 10_000;

export async function configure(agent: AgentClient, settings: Record<string, unknown>): Promise<void> {
  const res = await agent.patch("/api/v1/agents/@me/config", settings);
  if (res.status !== 200) throw new Error(`PATCH @me/config failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export function progress(text: string): void {
  process.stderr.write(`  · ${text}\n`);
}

// ---------------------------------------------------------------- statistics and output

/** Nearest-rank percentile of an already sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export type Summary = { count: number; p50: number; p95: number; p99: number; max: number; mean: number };

export function summarize(values: Float64Array | number[]): Summary {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
  };
}

export const ms = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + " ms" : "-");
export const num = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "-");

/** A plain-text table; columns listed in `right` are right-aligned (numbers), the others left-aligned. */
export function table(rows: (string | number)[][], header?: string[], right: number[] = []): string {
  const all = header ? [header, ...rows] : rows;
  const widths = all[0].map((_, c) => Math.max(...all.map((r) => String(r[c] ?? "").length)));
  const fmt = (r: (string | number)[]) =>
    r
      .map((cell, c) => (right.includes(c) ? String(cell).padStart(widths[c]) : String(cell).padEnd(widths[c])))
      .join("  ")
      .trimEnd();
  const lines = all.map(fmt);
  if (header) lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return lines.join("\n");
}

// ---------------------------------------------------------------- CPU accounting

const clockTicks = 100; // USER_HZ on Linux

/** CPU seconds (user + system) used so far by a process, from /proc; undefined when unavailable. */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/** Measures the CPU used by this process and the server between `start()` and `stop()`. */
export function cpuMeter(serverPid?: number) {
  let t0 = 0;
  let self0 = process.cpuUsage();
  let server0: number | undefined;
  return {
    start() {
      t0 = performance.now();
      self0 = process.cpuUsage();
      server0 = serverPid ? processCpuSeconds(serverPid) : undefined;
    },
    stop() {
      const wall = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      const server1 = serverPid ? processCpuSeconds(serverPid) : undefined;
      const selfCpu = (self.user + self.system) / 1e6;
      const serverCpu = server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined;
      return { wall, loadgen: selfCpu / wall, server: serverCpu !== undefined ? serverCpu / wall : undefined };
    },
  };
}

const loadAtStart = loadavg()[0];

/** The commit of the code under test, `+dirty` when src/ or migrations/ have uncommitted changes. */
export function serverCommit(): string {
  const git = (...args: string[]) =>
    Bun.spawnSync(["git", ...args], { cwd: repoRoot })
      .stdout.toString()
      .trim();
  const head = git("rev-parse", "--short", "HEAD") || "unknown";
  return git("status", "--porcelain", "--", "src", "migrations") ? `${head}+dirty` : head;
}

export function machineNote(): string {
  const c = cpus();
  const busy = loadAtStart > 1 ? " (other work was running: figures are pessimistic)" : "";
  // The run itself adds up to ~2 (server + load generator on 2 cores); more means something else was running too.
  return `${c.length} cores (${c[0]?.model?.trim() ?? "unknown"}), Bun ${Bun.version}, load average ${loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end${busy}; load generator and server share the cores`;
}

export const pct = (v: number | undefined) => (v === undefined ? "n/a" : `${(v * 100).toFixed(0)}%`);
