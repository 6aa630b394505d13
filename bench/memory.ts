// Server memory: resident set size (VmRSS of the server process) idle after start, after registering agents, and with
// N idle authenticated WebSocket sessions open (each agent opens up to 10, the per-agent maximum; no subscriptions).
//
//   bun bench/memory.ts                      (embedded: PGlite in the server's process, so its memory counts), on a
//                                            data dir started once before, as `bun start` runs on every start but the first
//   bun bench/memory.ts --in-memory          (embedded on --data-dir memory:, the database's files in process memory too)
//   bun bench/memory.ts --postgres           (the server's own process; PostgreSQL's and Redis's memory are not in it)
//   bun bench/memory.ts --sockets 1000 --settle 3
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wsUrl } from "../src/client/gateway.ts";
import { machineNote, num, parseOptions, pool, progress, registerMany, startTarget, table } from "./common.ts";

const opts = parseOptions("memory.ts", "Server resident memory: idle, and per idle authenticated WebSocket session.", {
  sockets: { default: 1000, help: "idle authenticated sockets to open (10 per agent)" },
  settle: { default: 3, help: "seconds to wait before each reading" },
  concurrency: { default: 16, help: "parallel registrations / socket opens" },
  "in-memory": { default: false, help: "embedded on --data-dir memory: (its files are process memory) instead of a data dir" },
  postgres: { default: false, help: "run the server on a scratch database of the local PostgreSQL + the local Redis (dropped after)" },
  json: { default: false, help: "also print the figures as one JSON line" },
});

const perAgent = 10;

/** VmRSS of a process in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Opens /ws with the token and waits for `ready`. */
function openSession(baseUrl: string, token: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(baseUrl, token));
    const timer = setTimeout(() => (ws.close(), reject(new Error("no ready frame within 30 s"))), 30_000);
    ws.onmessage = (ev) => {
      if (String(ev.data).startsWith('{"op":"ready"')) {
        clearTimeout(timer);
        ws.onmessage = null; // idle from here on: frames (presence) are read and dropped
        resolve(ws);
      }
    };
    ws.onclose = (ev) => (clearTimeout(timer), reject(new Error(`socket closed before ready: ${ev.code} ${ev.reason}`)));
  });
}

async function main() {
  const N = Math.max(1, Math.floor(opts.sockets));
  const dataDir = opts.postgres || opts["in-memory"] ? undefined : mkdtempSync(join(tmpdir(), "moltstack-memory-"));
  if (dataDir) {
    // The first start of a new data dir creates the database; the figures are those of a start after it.
    await (await startTarget({ dataDir })).stop();
    progress(`data dir ${dataDir} created`);
  }
  const target = await startTarget({ postgres: opts.postgres, dataDir });
  const sockets: WebSocket[] = [];
  try {
    if (!target.pid) throw new Error("needs a server it started itself (for its pid)");
    progress(`server ${target.url} (${target.mode}), pid ${target.pid}`);
    const settle = () => Bun.sleep(opts.settle * 1000);
    await settle();
    const idle = rss(target.pid);
    const agents = await registerMany(target.url, "m", Math.ceil(N / perAgent), opts.concurrency);
    await settle();
    const registered = rss(target.pid);
    const tokens = Array.from({ length: N }, (_, i) => agents[Math.floor(i / perAgent)].tokens.api_token);
    const started = performance.now();
    await pool(tokens, opts.concurrency, async (token) => void sockets.push(await openSession(target.url, token)));
    progress(`${N} sockets open in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await settle();
    const open = rss(target.pid);
    const perSocket = (open - registered) / N;
    console.log();
    console.log(
      table(
        [
          ["idle, after start", mb(idle), "-"],
          [`${agents.length} agents registered`, mb(registered), "-"],
          [`${num(N)} idle authenticated sockets`, mb(open), `${(perSocket / 1024).toFixed(1)} KB per socket`],
        ],
        ["server", "resident (VmRSS)", ""],
        [1],
      ),
    );
    console.log(
      `mode: ${target.mode}${dataDir ? " on a data dir" : opts.postgres ? "" : " on memory:"}, server code ${target.commit}; readings ${opts.settle} s after each step`,
    );
    console.log(`note: ${machineNote()}`);
    if (opts.json)
      console.log(
        JSON.stringify({
          bench: "memory",
          mode: target.mode,
          server_commit: target.commit,
          idle,
          registered,
          open,
          sockets: N,
          per_socket: perSocket,
        }),
      );
  } finally {
    for (const ws of sockets) ws.close();
    await target.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main().then(
  () => process.exit(0),
  (e) => {
    console.error(`memory: ${(e as Error).message}`);
    process.exit(1);
  },
);
