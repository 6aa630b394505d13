// The embedded database on a disk that fills up: writes answer 507 disk_full (never a 500), /readyz says so, a start on
// the full disk says so in one line, and every acknowledged message is still there once space is back.
// The disk is a real 100 MB tmpfs filled by another file, as another program would fill it; mounting needs root.

import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { agentClient, registerAgent } from "../src/client/agent.ts";
import { serveProcess, tempDir, uniqueName } from "./helpers.ts";

const entry = `${import.meta.dir}/../src/main.ts`;
const lifted = { MOLTSTACK_LIMIT_API_PER_MINUTE: "1000000", MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "1000000" };

const mountPoint = tempDir("moltstack-disk-");
const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=100m", "tmpfs", mountPoint.path], { stderr: "pipe" });
const mounted = mount.exitCode === 0;
if (!mounted)
  console.warn(`disk.test: skipped: cannot mount a small tmpfs here (${mount.stderr.toString().trim() || "mount failed"}); run it as root`);
afterAll(() => {
  if (mounted) Bun.spawnSync(["umount", "-l", mountPoint.path]);
  mountPoint.remove();
});

/** Takes every free byte of the tmpfs; the file's removal gives them back. */
function fill(path: string): void {
  const fd = openSync(path, "w");
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOSPC") throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!mounted)("a full disk", () => {
  it("answers 507 disk_full, /readyz unavailable, refuses to start in one line, and loses nothing acknowledged", async () => {
    const dataDir = join(mountPoint.path, "data");
    const filler = join(mountPoint.path, "filler");
    let server = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dataDir], { env: lifted });
    const alice = await registerAgent(server.url, uniqueName("alice"));
    await alice.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10_000 });
    const s = await alice.createServer({ name: "Full" });
    const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const acknowledged: string[] = [];
    // Random text does not compress: each post needs new pages.
    const post = () =>
      alice.post(`/api/v1/channels/${channel}/messages`, { content: crypto.getRandomValues(Buffer.alloc(2900)).toString("base64") });
    for (let i = 0; i < 3; i++) acknowledged.push((await post()).body.id);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    fill(filler);
    const refused: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await post();
      if (res.status === 201) acknowledged.push(res.body.id);
      else refused.push(`${res.status} ${res.body.error.code}`);
    }
    expect(refused).toEqual(Array(5).fill("507 disk_full"));
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: "unavailable", disk: "full" });
    // Reads still work.
    expect((await alice.get(`/api/v1/channels/${channel}/messages`)).status).toBe(200);

    server.proc.kill("SIGTERM");
    expect(await server.proc.exited).toBe(0);
    const start = Bun.spawn(["bun", entry, "--port", "0", "--data-dir", dataDir], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, DATABASE_URL: "", REDIS_URL: "" },
    });
    expect(await start.exited).toBe(2);
    expect((await new Response(start.stderr).text()).trim().split("\n")).toEqual([
      `moltstack: cannot use the data dir ${dataDir}: the disk is full`,
    ]);

    // Space is back: the server starts, is ready, takes posts, and has every acknowledged one.
    unlinkSync(filler);
    server = await serveProcess(["bun", entry, "--port", "0", "--data-dir", dataDir], { env: lifted });
    try {
      const again = agentClient(server.url, alice.username, alice.keys, alice.tokens);
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      expect((await again.post(`/api/v1/channels/${channel}/messages`, { content: "room again" })).status).toBe(201);
      const stored = (await again.get(`/api/v1/channels/${channel}/messages?limit=100`)).body.data.map((m: { id: string }) => m.id);
      console.log(
        `disk full: ${acknowledged.length} acknowledged, ${refused.length} refused with 507, ${stored.length - 1} stored before the disk was freed`,
      );
      // Newest first: the post after recovery, then exactly the acknowledged ones (none refused was stored).
      expect(stored.slice(1).sort()).toEqual([...acknowledged].sort());
    } finally {
      server.proc.kill("SIGTERM");
      await server.proc.exited;
    }
  }, 300_000);
});
