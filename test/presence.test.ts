// Presence follows the state machine: ONLINE on connect, IDLE after timeout/2 without an outbound act, OFFLINE
// after timeout or when the last socket closes. Only outbound acts reset the clock. The server runs on a manual clock
// that the test moves forward: nobody sleeps through an idle timeout. Changes come batched, one frame per server a tick.

import { setDefaultTimeout } from "bun:test";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, agentClient } from "../src/client/agent.ts";
import type { Frame, GatewaySocket } from "../src/client/gateway.ts";
import { maxPresenceGapMs, presenceTickMs } from "../src/domain/presence.ts";
import { type ManualClock, manualClock } from "../src/lib/clock.ts";
import type { PresenceChange } from "../src/wire.ts";
import { tempDir, testServer, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const clock = manualClock();
const server = useServer({ clock });
let alice: AgentClient;
let bob: AgentClient;
let serverId: string;
let general: string;

beforeAll(async () => {
  [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
  serverId = (await bob.createServer({ name: "Presence" })).id;
  await alice.post(`/api/v1/servers/${serverId}/join`);
  general = (await bob.get(`/api/v1/servers/${serverId}/channels`)).body.data[0].id;
});

/** Changes announced to a listener: [username, status] per change, in the order they came. */
const changesIn = (frames: Frame[]): [string, string][] =>
  frames
    .filter((f) => f.op === "presence" && Array.isArray(f.changes))
    .flatMap((f) => f.changes.map((c: PresenceChange) => [c.agent, c.status]));

/**
 * Moves the clock a tick at a time until `socket` has a frame that `match` accepts. For changes that start with
 * something the test cannot await (the server handling a socket's close): a tick or two, never an idle timeout.
 */
async function tickUntil(clock: ManualClock, socket: GatewaySocket, match: (f: Frame) => boolean, from = 0): Promise<Frame> {
  for (let ticks = 0; ; ticks++) {
    await clock.advance(presenceTickMs);
    const seen = await socket.next(match, 200, from).catch(() => undefined);
    if (seen) return seen;
    if (ticks > 50) throw new Error(`no such frame after ${ticks} ticks; last frames: ${JSON.stringify(socket.frames.slice(-3))}`);
  }
}

const changeOf = (username: string, status: string) => (f: Frame) =>
  f.op === "presence" && Array.isArray(f.changes) && f.changes.some((c: PresenceChange) => c.agent === username && c.status === status);

describe("presence", () => {
  it("is per agent: a snapshot on subscribe counts an agent with two sockets once", async () => {
    const a1 = await alice.connect();
    const a2 = await alice.connect();
    await clock.advance(presenceTickMs);
    const b = await bob.connect();
    b.send({ op: "subscribe", channels: [general] });
    const snapshot = await b.next((f) => f.op === "presence" && Array.isArray(f.online));
    expect(snapshot.online.filter((u: string) => u === alice.username)).toHaveLength(1);
    a1.close();
    await a1.closed;
    // One socket left: alice stays online.
    await clock.advance(presenceTickMs);
    const c = await bob.connect();
    c.send({ op: "subscribe", channels: [general] });
    expect((await c.next((f) => f.op === "presence" && Array.isArray(f.online))).online).toContain(alice.username);
    a2.close();
    const offline = await tickUntil(clock, b, changeOf(alice.username, "offline"));
    expect(offline.server_id).toBe(serverId);
    expect((await bob.get(`/api/v1/agents/${alice.username}`)).body.presence).toBe("offline");
    b.close();
    c.close();
  });

  it("goes ONLINE → IDLE → OFFLINE; outbound acts reset the clock, inbound traffic does not", async () => {
    expect((await alice.patch("/api/v1/agents/@me/config", { idle_timeout_seconds: 30 })).status).toBe(200);
    const presenceOf = async () => (await bob.get(`/api/v1/agents/${alice.username}`)).body.presence;
    const watcher = await bob.connect();
    watcher.send({ op: "subscribe", channels: [general] });
    await watcher.next((f) => f.op === "subscribed");
    const from = watcher.frames.length;
    const a = await alice.connect();
    a.send({ op: "subscribe", channels: [general] });
    await a.next((f) => f.op === "subscribed");
    await tickUntil(clock, watcher, changeOf(alice.username, "online"), from);

    await clock.advance(8_000);
    await alice.send(general, "still here"); // outbound: resets the clock
    for (let i = 0; i < 5; i++) await bob.send(general, `chatter ${i}`); // inbound for alice: no reset
    // Idle after 15 s without an outbound act, not a tick sooner.
    await clock.advance(15_000 - presenceTickMs);
    expect(await presenceOf()).toBe("online");
    await clock.advance(presenceTickMs);
    expect(await presenceOf()).toBe("idle");
    const idle = await watcher.next(changeOf(alice.username, "idle"), 5000, from);
    await bob.send(general, "are you there?"); // inbound again: still no reset
    // Offline after 30 s.
    await clock.advance(15_000 - presenceTickMs);
    expect(await presenceOf()).toBe("idle");
    await clock.advance(presenceTickMs);
    expect(await presenceOf()).toBe("offline");
    const offline = await watcher.next(changeOf(alice.username, "offline"), 5000, watcher.frames.indexOf(idle));
    expect(offline.server_id).toBe(serverId);
    // An outbound act while connected brings her back.
    a.send({ op: "typing", channel: general });
    await tickUntil(clock, watcher, changeOf(alice.username, "online"), watcher.frames.indexOf(offline));
    const statuses = changesIn(watcher.frames.slice(from))
      .filter(([u]) => u === alice.username)
      .map(([, s]) => s);
    expect(statuses).toEqual(["online", "idle", "offline", "online"]);
    const back = watcher.frames.length;
    a.close();
    await tickUntil(clock, watcher, changeOf(alice.username, "offline"), back);
    watcher.close();
  });

  let crowd: AgentClient[];
  it("batches a wave: agents coming online together cost each listener one frame", async () => {
    crowd = await Promise.all(Array.from({ length: 20 }, (_, i) => server.agent(`crowd${i}`)));
    await Promise.all(crowd.map((c) => c.post(`/api/v1/servers/${serverId}/join`)));
    const watcher = await bob.connect();
    watcher.send({ op: "subscribe", channels: [general] });
    await watcher.next((f) => f.op === "subscribed");
    await clock.advance(presenceTickMs); // bob's own coming online, if it was not announced yet
    const from = watcher.frames.length;

    // `ready` means the socket counts: all twenty are announced by the next tick, together.
    const sockets = await Promise.all(crowd.map((c) => c.connect()));
    await clock.advance(presenceTickMs);
    const names = new Set(crowd.map((c) => c.username));
    const wave = await watcher.next((f) => f.op === "presence" && Array.isArray(f.changes), 5000, from);
    expect(wave.server_id).toBe(serverId);
    const ofCrowd = wave.changes.filter((c: PresenceChange) => names.has(c.agent));
    expect(ofCrowd.map((c: PresenceChange) => c.agent).sort()).toEqual([...names].sort());
    expect(ofCrowd.every((c: PresenceChange) => c.status === "online" && typeof c.agent_id === "string")).toBe(true);

    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed));
    const seenOffline = new Set<string>();
    await tickUntil(
      clock,
      watcher,
      () => {
        for (const [u, s] of changesIn(watcher.frames.slice(from))) if (s === "offline" && names.has(u)) seenOffline.add(u);
        return seenOffline.size === names.size;
      },
      from,
    );
    // One frame for the wave online, the closes in the tick or two they took to reach the server: a handful in all.
    const frames = watcher.frames.slice(from).filter((f) => f.op === "presence");
    expect(frames.length).toBeLessThanOrEqual(5);
    expect(changesIn(frames).filter(([u]) => names.has(u))).toHaveLength(40);
    watcher.close();
  });

  it("spaces frames out while a server keeps changing, and every change still arrives", async () => {
    const names = new Set(crowd.map((c) => c.username));
    await clock.advance(maxPresenceGapMs); // the last test's pace has lapsed
    const watcher = await bob.connect();
    watcher.send({ op: "subscribe", channels: [general] });
    await watcher.next((f) => f.op === "subscribed");
    await clock.advance(maxPresenceGapMs);
    const from = watcher.frames.length;

    // Two agents come online every tick for ten ticks: frames go at 0, 1, 3 and 7 ticks, then after the 8-tick gap.
    const sockets: GatewaySocket[] = [];
    for (let i = 0; i < 10; i++) {
      sockets.push(...(await Promise.all(crowd.slice(2 * i, 2 * i + 2).map((c) => c.connect()))));
      await clock.advance(presenceTickMs);
    }
    await clock.advance(8 * presenceTickMs);
    await watcher.next(
      () => changesIn(watcher.frames.slice(from)).filter(([u, s]) => names.has(u) && s === "online").length === names.size,
      5000,
      from,
    );
    const frames = watcher.frames.slice(from).filter((f) => f.op === "presence" && f.changes);
    expect(frames.map((f) => (f.changes ?? []).filter((c: PresenceChange) => names.has(c.agent)).length)).toEqual([2, 2, 4, 8, 4]);
    for (const s of sockets) s.close();
    watcher.close();
  });
});

describe("presence across a shutdown", () => {
  it("marks agents connected to a stopping server offline", async () => {
    const dir = tempDir();
    try {
      const clock = manualClock();
      const first = await testServer({ dataDir: dir.path, clock });
      const carol = await first.agent("carol");
      const socket = await carol.connect();
      await clock.advance(presenceTickMs);
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
