import { setDefaultTimeout } from "bun:test";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { registerAgent } from "../src/client/agent.ts";
import { serveProcess, tempDir, testServer, uniqueName } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const entry = `${import.meta.dir}/../src/main.ts`;

async function run(args: string[], env: Record<string, string> = {}, prefix: string[] = []) {
  const proc = Bun.spawn([...prefix, "bun", entry, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, DATABASE_URL: "", REDIS_URL: "", ...env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("the moltstack command", () => {
  it("prints its version and help", async () => {
    const version = await run(["version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^moltstack \d+\.\d+\.\d+/);
    const help = await run(["help"]);
    expect(help.code).toBe(0);
    for (const word of ["serve", "migrate", "--data-dir", "DATABASE_URL", "--trust-proxy"]) expect(help.stdout).toContain(word);
  });

  it("refuses a bad flag with one line and exit code 2", async () => {
    for (const args of [["--nope"], ["serve", "--port"], ["serve", "--port", "99999"], ["frobnicate"]]) {
      const res = await run(args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toStartWith("moltstack: ");
      expect(res.stderr).not.toContain("    at ");
    }
  });

  it("says what a number flag must be, in words", async () => {
    for (const [args, env] of [
      [["--port", "abc"], {}],
      [["--port", "1.5"], {}],
      [[], { PORT: "-1" }],
    ] as const) {
      const res = await run(["serve", ...args, "--data-dir", "memory:"], env);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr.trim()).toBe("moltstack: invalid --port / PORT: must be a whole number 0-65535");
    }
    const limit = await run(["serve", "--data-dir", "memory:"], { MOLTSTACK_LIMIT_API_PER_MINUTE: "lots" });
    expect(limit.stderr.trim()).toBe("moltstack: invalid MOLTSTACK_LIMIT_API_PER_MINUTE: must be a whole number of at least 1");
    // A limit still set under its former name is read, and a bad value names the variable that holds it.
    const former = await run(["serve", "--data-dir", "memory:"], { MOLTSTACK_LIMIT_WS_MESSAGES_PER_MINUTE: "lots" });
    expect(former.stderr.trim()).toBe("moltstack: invalid MOLTSTACK_LIMIT_WS_MESSAGES_PER_MINUTE: must be a whole number of at least 1");
  });

  it("refuses an unreachable Redis with exactly one line and exit code 2", async () => {
    const res = await run(["serve", "--port", "0", "--data-dir", "memory:", "--redis-url", "redis://127.0.0.1:1"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n")).toEqual([expect.stringContaining("moltstack: cannot reach Redis at redis://127.0.0.1:1: ")]);
    expect(res.stderr).toContain("ECONNREFUSED");
  });

  it("refuses an unreachable database with one line and exit code 2", async () => {
    const res = await run(["serve", "--port", "0"], {
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/nothing",
      MOLTSTACK_JWT_SECRET: "x".repeat(40),
    });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain("cannot reach PostgreSQL");
  });

  it("refuses a port another process listens on with one line and exit code 2, unless asked to share it", async () => {
    // The other process: a plain listener that allows sharing, as Bun's default server did for every MoltStack.
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: true, fetch: () => new Response("the other one") });
    try {
      const refused = await run(["--port", String(other.port), "--data-dir", "memory:"]);
      expect(refused.code).toBe(2);
      expect(refused.stderr.trim().split("\n")).toEqual([
        `moltstack: cannot listen on 127.0.0.1:${other.port}: the port is in use by another process (choose another --port, or pass --reuse-port to share it on purpose)`,
      ]);
      // Asked for: MoltStack shares the port.
      const shared = await serveProcess(["bun", entry, "--port", String(other.port), "--data-dir", "memory:"], {
        env: { MOLTSTACK_REUSE_PORT: "1" },
      });
      expect(shared.url).toBe(`http://127.0.0.1:${other.port}`);
      shared.proc.kill("SIGTERM");
      expect(await shared.proc.exited).toBe(0);
    } finally {
      other.stop(true);
    }
  }, 120_000);

  it("refuses an address that is not this machine's with one line and exit code 2", async () => {
    for (const [host, why] of [
      ["no-such-host.invalid", "is not an IP address or a name of this machine"],
      ["192.0.2.1", "is not an address of this machine"],
    ]) {
      const res = await run(["--host", host, "--port", "0", "--data-dir", "memory:"]);
      expect(res.code, host).toBe(2);
      expect(res.stderr.trim().split("\n")).toEqual([`moltstack: cannot listen on ${host}:0: ${host} ${why} (--host / HOST)`]);
    }
  });

  it("refuses a data dir it cannot use with one line and exit code 2", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "a-file");
      writeFileSync(file, "not a directory");
      const cases: [string[], string, string][] = [
        [[], file, "it is a file, not a directory"],
        [[], join(file, "data"), "a part of its path is a file, not a directory"],
      ];
      // Permissions bind everyone but root: as root, run the server as nobody to meet a directory it may not write.
      const locked = join(dir.path, "locked");
      mkdirSync(locked, { mode: 0o555 });
      chmodSync(dir.path, 0o755);
      const asOther = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
      cases.push([asOther, join(locked, "data"), "permission denied (the user running moltstack cannot write there)"]);
      for (const [prefix, dataDir, why] of cases) {
        const res = await run(["--port", "0", "--data-dir", dataDir], {}, prefix);
        expect(res.code, dataDir).toBe(2);
        expect(res.stderr.trim().split("\n")).toEqual([`moltstack: cannot use the data dir ${dataDir}: ${why}`]);
      }
    } finally {
      dir.remove();
    }
  });

  it("seeds the server listening at --port, and says so when nothing answers there", async () => {
    const free = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const nothing = free.port;
    free.stop(true);
    const none = await run(["seed", "--port", String(nothing), "--data-dir", "memory:"]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim().split("\n")).toEqual([
      `moltstack: nothing answers at http://127.0.0.1:${nothing}: start \`moltstack serve\` there first, or leave out --host/--port to seed the database on a private port`,
    ]);
    // A server whose demo agents exist already: seed looks there, finds them and leaves it alone.
    const server = await testServer();
    try {
      for (const name of ["clawd", "echo"]) await registerAgent(server.url, name);
      const port = new URL(server.url).port;
      const seeded = await run(["seed", "--port", port]);
      expect(seeded.code).toBe(0);
      expect(seeded.stdout).toContain(`seed: http://127.0.0.1:${port} already has the demo world`);
    } finally {
      await server.stop();
    }
  }, 180_000);

  it("refuses a damaged data dir with one line naming it and exit code 2", async () => {
    const dir = tempDir();
    try {
      const data = join(dir.path, "data");
      const first = await serveProcess(["bun", entry, "--port", "0", "--data-dir", data]);
      const alice = await registerAgent(first.url, uniqueName("alice"));
      first.proc.kill("SIGTERM");
      expect(await first.proc.exited).toBe(0);
      // Each damage on its own copy: a cut-short control file, and the table files that hold the agent cut to nothing.
      const control = join(dir.path, "control");
      const table = join(dir.path, "table");
      cpSync(data, control, { recursive: true });
      cpSync(data, table, { recursive: true });
      truncateSync(join(control, "global", "pg_control"), 100);
      const holding = readdirSync(join(table, "base"), { recursive: true, encoding: "utf8" })
        .map((f) => join(table, "base", f))
        .filter((f) => statSync(f).isFile() && readFileSync(f).includes(alice.username));
      expect(holding.length).toBeGreaterThan(0);
      for (const f of holding) truncateSync(f, 0);
      for (const damaged of [control, table]) {
        const res = await run(["--port", "0", "--data-dir", damaged]);
        expect(res.code, damaged).toBe(2);
        const lines = res.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toStartWith(`moltstack: the embedded database in ${damaged} is damaged (`);
        expect(lines[0]).toEndWith("): restore the data dir from a backup");
      }
    } finally {
      dir.remove();
    }
  }, 240_000);

  it("serves on a data dir, says where, and shuts down cleanly on SIGTERM", async () => {
    const dir = tempDir();
    try {
      const { proc, url, out } = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dir.path]);
      expect(out).toContain("(embedded)");
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    } finally {
      dir.remove();
    }
  });

  it("refuses a second server on the same data dir with one line naming the first, and takes over a stale lock", async () => {
    const dir = tempDir();
    const data = join(dir.path, "data");
    const lock = join(data, "moltstack.lock");
    try {
      const first = await serveProcess(["bun", entry, "--port", "0", "--data-dir", data]);
      try {
        expect(statSync(data).mode & 0o777).toBe(0o700);
        const second = await run(["--port", "0", "--data-dir", data]);
        expect(second.code).toBe(2);
        expect(second.stderr.trim().split("\n")).toHaveLength(1);
        expect(second.stderr).toContain(`the data dir ${data} is in use by process ${first.proc.pid}`);
        expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
      } finally {
        first.proc.kill("SIGTERM");
        expect(await first.proc.exited).toBe(0);
      }
      expect(existsSync(lock)).toBe(false);
      // A server that died without cleaning up (kill -9) leaves its lock behind: the next one takes it over.
      const gone = Bun.spawn(["true"]);
      await gone.exited;
      writeFileSync(lock, String(gone.pid));
      const next = await serveProcess(["bun", entry, "--port", "0", "--data-dir", data]);
      expect((await fetch(`${next.url}/healthz`)).status).toBe(200);
      next.proc.kill("SIGTERM");
      expect(await next.proc.exited).toBe(0);
    } finally {
      dir.remove();
    }
  });
});
