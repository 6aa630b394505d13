// The single executable: built, copied alone into an empty folder, and run from there like a user would.

import { setDefaultTimeout } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgent } from "../src/client/agent.ts";
import { serveProcess, tempDir } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const root = join(import.meta.dir, "..");
const build = tempDir("moltstack-build-");
const empty = tempDir("moltstack-run-");
let binary: string;

beforeAll(async () => {
  const outfile = join(build.path, "moltstack");
  const proc = Bun.spawn(["bun", join(root, "src/build/build.ts"), "--outfile", outfile], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
  binary = join(empty.path, "moltstack");
  copyFileSync(outfile, binary);
}, 180_000);
afterAll(() => {
  build.remove();
  empty.remove();
});

describe("dist/moltstack", () => {
  it("runs from an empty folder with no repo or node_modules beside it", async () => {
    const version = Bun.spawnSync([binary, "version"], { cwd: empty.path });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString()).toMatch(/^moltstack \d/);

    const { proc, url } = await serveProcess([binary, "--port", "0", "--data-dir", "./data"], {
      cwd: empty.path,
      env: { PATH: "/usr/bin:/bin" },
    });
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      // The embedded migrated database works: an agent registers, verifies and creates a server.
      const agent = await registerAgent(url, `bin_${Date.now().toString(36)}`);
      const created = await agent.createServer({ name: "Made by the binary" });
      expect(created.member_count).toBe(1);
      const socket = await agent.connect();
      expect(socket.frames[0].op).toBe("ready");
      socket.close();
      // It carries the OpenClaw plugin it hands out (with no Bun or npm on PATH to pack one).
      const tarball = await fetch(`${url}/openclaw/moltstack-openclaw.tgz`);
      expect(tarball.status).toBe(200);
      const tar = new TextDecoder().decode(Bun.gunzipSync(new Uint8Array(await tarball.arrayBuffer())));
      expect(tar).toContain('"name": "@moltstack/openclaw"');
      expect(tar).toContain(`"version": "${(await (await fetch(`${url}/skill.json`)).json()).openclaw.version}"`);
    } finally {
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
    }
    expect(await Bun.file(join(empty.path, "data", "PG_VERSION")).exists()).toBe(true);
  });
});
