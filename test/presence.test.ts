// Presence follows the state machine: ONLINE on connect, IDLE after timeout/2 without an outbound act, OFFLINE
// after timeout. Only outbound acts reset the clock. Assertions are on order and on lower bounds only: a
// transition may come late on a busy machine, never early.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDefaultTimeout } from "bun:test";
import { type AgentClient, agentClient } from "../src/client/agent.ts";
import type { Frame } from "../src/client/gateway.ts";
import { type TestServer, tempDir, testServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

let server: TestServer;
let alice: AgentClient;
let bob: AgentClient;
let general: string;

beforeAll(async () => {
  server = await testServer();
  [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
  const s = await bob.createServer({ name: "Presence" });
  await alice.post(`/api/v1/servers/${s.id}/join`);
  general = (await bob.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
});
afterAll(async () => {
  await server?.stop();
});

describe("presence", () => {
  it("is per agent: a snapshot on subscribe counts an agent with two sockets once", async () => {
    const a1 = await alice.connect();
    const a2 = await alice.connect();
    const b = await bob.connect();
    b.send({ op: "subscribe", channels: [general] });
    const snapshot = await b.next((f) => f.op === "presence" && Array.isArray(f.online));
    expect(snapshot.online.filter((u: string) => u === alice.username)).toHaveLength(1);
    a1.close();
    // One socket left: alice stays online.
    await Bun.sleep(300);
    const c = await bob.connect();
    c.send({ op: "subscribe", channels: [general] });
    expect((await c.next((f) => f.op === "presence" && Array.isArray(f.online))).online).toContain(alice.username);
    a2.close();
    expect(await b.next((f) => f.op === "presence" && f.agent === alice.username && f.status === "offline")).toBeTruthy();
    expect((await bob.get(`/api/v1/agents/${alice.username}`)).body.presence).toBe("offline");
    b.close();
    c.close();
  });

  it("goes ONLINE → IDLE → OFFLINE; outbound acts reset the clock, inbound traffic does not", async () => {
    expect((await alice.patch("/api/v1/agents/@me/config", { idle_timeout_seconds: 30 })).status).toBe(200);
    const watcher = await bob.connect();
    watcher.send({ op: "subscribe", channels: [general] });
    await watcher.next((f) => f.op === "subscribed");
    const a = await alice.connect();
    a.send({ op: "subscribe", channels: [general] });
    await a.next((f) => f.op === "subscribed");
    const from = watcher.frames.length;
    const statusOf = (f: Frame) => f.op === "presence" && f.agent === alice.username;

    await Bun.sleep(8000);
    const lastOutbound = Date.now();
    await alice.send(general, "still here"); // outbound: resets the clock
    for (let i = 0; i < 5; i++) await bob.send(general, `chatter ${i}`); // inbound for alice: no reset
    const idle = await watcher.next((f) => statusOf(f) && f.status === "idle", 40_000, from);
    const idleAt = Date.now();
    expect(idleAt - lastOutbound).toBeGreaterThanOrEqual(15_000);
    expect((await bob.get(`/api/v1/agents/${alice.username}`)).body.presence).toBe("idle");
    await bob.send(general, "are you there?"); // inbound again: still no reset
    const offline = await watcher.next((f) => statusOf(f) && f.status === "offline", 40_000, watcher.frames.indexOf(idle));
    expect(Date.now() - lastOutbound).toBeGreaterThanOrEqual(30_000);
    expect(offline.server_id).toBeTruthy();
    // An outbound act while connected brings her back.
    a.send({ op: "typing", channel: general });
    expect(await watcher.next((f) => statusOf(f) && f.status === "online", 10_000, watcher.frames.indexOf(offline))).toBeTruthy();
    // Her own "online" on connecting may arrive after `from` (it travels through Redis); after it: idle, offline, online.
    const statuses = watcher.frames.slice(from).filter(statusOf).map((f) => f.status);
    expect(statuses.slice(statuses.indexOf("idle"))).toEqual(["idle", "offline", "online"]);
    expect(statuses.slice(0, statuses.indexOf("idle")).every((s) => s === "online")).toBe(true);
    a.close();
    watcher.close();
  }, 120_000);
});

describe("presence across a shutdown", () => {
  it("marks agents connected to a stopping server offline", async () => {
    const dir = tempDir();
    try {
      const first = await testServer({ dataDir: dir.path });
      const carol = await first.agent("carol");
      const socket = await carol.connect();
      await Bun.sleep(600);
      expect((await carol.get("/api/v1/agents/@me")).body.presence).toBe("online");
      await first.stop();
      await socket.closed;
      const second = await testServer({ dataDir: dir.path });
      try {
        const again = agentClient(second.url, carol.username, carol.keys, carol.tokens);
        expect((await again.get("/api/v1/agents/@me")).body.presence).toBe("offline");
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
