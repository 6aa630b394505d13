// Throwaway Redis and PostgreSQL processes for the outage tests: each on a spare loopback port, started, killed
// (kill -9, as a crash would) and started again by the test, never the machine's shared ones.
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const pgBin = "/usr/lib/postgresql/15/bin";

/** Why the outage tests cannot run here, or undefined when redis-server, initdb and postgres are all present. */
export function missingBinaries(): string | undefined {
  const missing = [
    Bun.which("redis-server") ? undefined : "redis-server",
    existsSync(join(pgBin, "initdb")) ? undefined : `${pgBin}/initdb`,
    existsSync(join(pgBin, "postgres")) ? undefined : `${pgBin}/postgres`,
    process.getuid?.() === 0 && !Bun.which("runuser") ? "runuser (PostgreSQL refuses to run as root)" : undefined,
  ].filter(Boolean);
  return missing.length ? missing.join(", ") : undefined;
}

export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(what: string, ready: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ready().catch(() => false)) return;
    await Bun.sleep(50);
  }
  throw new Error(`${what} did not start within ${timeoutMs} ms`);
}

/** Whether something on 127.0.0.1:port answers a Redis PING. */
async function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let reply = "";
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (s) => void s.write("PING\r\n"),
        data: (s, d) => {
          reply += d.toString();
          if (reply.includes("\r\n")) {
            s.end();
            resolve(reply.startsWith("+PONG"));
          }
        },
        error: () => resolve(false),
        connectError: () => resolve(false),
        close: () => resolve(reply.startsWith("+PONG")),
      },
    }).catch(() => resolve(false));
  });
}

export type Throwaway = {
  url: string;
  port: number;
  /** Kills the process with SIGKILL, as a crash would, and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (and, for PostgreSQL, the same data dir); resolves once it answers. */
  start(): Promise<void>;
  /** Kills it and removes what it left on disk. */
  remove(): Promise<void>;
};

export async function throwawayRedis(): Promise<Throwaway> {
  const port = await sparePort();
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const start = async () => {
    proc = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitFor(`redis-server on port ${port}`, () => redisAnswers(port));
  };
  const kill = async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
    proc = undefined;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, kill, remove: kill };
}

/** Pids whose parent is `pid` (the postmaster's backends and helpers). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A fresh PostgreSQL 15 cluster in a temp dir (trust auth, user postgres), run as the `postgres` user when we are root. */
export async function throwawayPostgres(): Promise<Throwaway> {
  const port = await sparePort();
  const dir = mkdtempSync(join(tmpdir(), "moltstack-outage-pg-"));
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string[]) => (asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);
  if (asRoot)
    chownSync(
      dir,
      Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString()),
      Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString()),
    );
  const data = join(dir, "data");
  const init = Bun.spawnSync(as([`${pgBin}/initdb`, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]), {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.stderr.toString()}`);
  let proc: ReturnType<typeof Bun.spawn> | undefined;
  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]) || undefined;
    } catch {
      return undefined;
    }
  };
  const start = async () => {
    proc = Bun.spawn(
      as([
        `${pgBin}/postgres`,
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-k",
        dir,
        "-c",
        "fsync=off",
        "-c",
        "max_connections=60",
      ]),
      { stdout: "ignore", stderr: "ignore" },
    );
    await waitFor(`PostgreSQL on port ${port}`, async () => {
      const ready = Bun.spawnSync([`${pgBin}/pg_isready`, "-q", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-t", "1"]);
      return ready.exitCode === 0;
    });
  };
  const kill = async () => {
    const pid = postmasterPid();
    if (pid && alive(pid)) {
      // The postmaster and every backend at once, as a machine losing the process tree would.
      const family = [pid, ...childrenOf(pid)];
      for (const p of family) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      const deadline = Date.now() + 10_000;
      while (family.some(alive) && Date.now() < deadline) await Bun.sleep(20);
    }
    await proc?.exited;
    proc = undefined;
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    kill,
    async remove() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
