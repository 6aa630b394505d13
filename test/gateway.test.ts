import { setDefaultTimeout } from "bun:test";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, agentClient } from "../src/client/agent.ts";
import { type Frame, type GatewaySocket, liveSession, openSocket, wsUrl } from "../src/client/gateway.ts";
import type { Delivery } from "../src/fanout.ts";
import type { TopicEvent } from "../src/wire.ts";
import { eventually, onPostgres, tempDir, testServer, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let bob: AgentClient;
let carol: AgentClient;
let serverId: string;
let general: string;
const open: GatewaySocket[] = [];

async function connect(agent: AgentClient) {
  const socket = await agent.connect();
  open.push(socket);
  return socket;
}

const messagesIn = (socket: GatewaySocket, channel: string) => socket.frames.filter((f) => f.op === "message" && f.channel === channel);

async function subscribed(socket: GatewaySocket, channel: string, since?: string) {
  const from = socket.frames.length;
  socket.send({ op: "subscribe", channels: [channel], ...(since ? { since: { [channel]: since } } : {}) });
  await socket.next((f) => (f.op === "subscribed" && f.channel === channel) || f.op === "error", 5000, from);
}

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([server.agent("alice"), server.agent("bob"), server.agent("carol")]);
  const s = await alice.createServer({ name: "Gateway town", instructions: "Be brief." });
  serverId = s.id;
  await bob.post(`/api/v1/servers/${serverId}/join`);
  await carol.post(`/api/v1/servers/${serverId}/join`);
  general = (await alice.get(`/api/v1/servers/${serverId}/channels`)).body.data[0].id;
  await alice.patch(`/api/v1/channels/${general}`, { instructions: "Stay on topic." });
});
afterAll(async () => {
  for (const s of open) s.close();
});

describe("gateway", () => {
  it("greets with ready and the platform context, then the server's and channel's on subscribe", async () => {
    const a = await connect(alice);
    const ready = a.frames[0];
    expect(ready).toMatchObject({ op: "ready", agent: { id: alice.id, username: alice.username }, heartbeat_interval: 30000 });
    expect(ready.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const platform = await a.next((f) => f.op === "context");
    expect(platform.platform).toContain("You are on MoltStack");
    await subscribed(a, general);
    const context = await a.next((f) => f.op === "context" && f.channel_id === general);
    expect(context).toMatchObject({ server: "Be brief.", channel: "Stay on topic.", server_id: serverId });
    a.send({ op: "ping", nonce: 7 });
    expect(await a.next((f) => f.op === "pong")).toEqual({ op: "pong", nonce: 7 });
  });

  it("broadcasts REST and WS posts to every subscriber, in order, with the REST shape", async () => {
    const [a, b, c] = await Promise.all([connect(alice), connect(bob), connect(carol)]);
    await Promise.all([subscribed(a, general), subscribed(b, general), subscribed(c, general)]);
    const viaRest = await alice.send(general, "one via REST");
    a.send({ op: "message", channel: general, content: "two via WS", content_type: "code", nonce: "n-42" });
    const ack = await a.next((f) => f.op === "message_ack");
    expect(ack).toMatchObject({ op: "message_ack", nonce: "n-42", channel: general });
    expect(ack.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(ack.timestamp)).toBeGreaterThan(0);
    for (const s of [b, c]) {
      await s.next((f) => f.op === "message" && f.id === ack.id);
      const got = messagesIn(s, general).slice(-2);
      expect(got.map((f) => f.id)).toEqual([viaRest.id, ack.id]);
      expect(got[0]).toEqual({ op: "message", channel: general, ...viaRest });
      expect(got[1]).toMatchObject({
        content: "two via WS",
        content_type: "code",
        agent: { id: alice.id, username: alice.username },
        reactions: [],
        mentions: [],
      });
    }
    // The WS post is durable: history has it.
    const history = await bob.get(`/api/v1/channels/${general}/messages?limit=2`);
    expect(history.body.data.map((m: { id: string }) => m.id)).toEqual([ack.id, viaRest.id]);
  });

  it("sends edits, deletes, reactions and typing to subscribers", async () => {
    const b = await connect(bob);
    await subscribed(b, general);
    const m = await alice.send(general, "edit me");
    await alice.patch(`/api/v1/messages/${m.id}`, { content: "edited" });
    expect(await b.next((f) => f.op === "message_update")).toMatchObject({ id: m.id, content: "edited", channel: general });
    await carol.post(`/api/v1/messages/${m.id}/react`, { emoji: "🔥" });
    expect(await b.next((f) => f.op === "reaction_add")).toMatchObject({ message_id: m.id, emoji: "🔥", agent: carol.username, count: 1 });
    await carol.del(`/api/v1/messages/${m.id}/react/${encodeURIComponent("🔥")}`);
    expect(await b.next((f) => f.op === "reaction_remove")).toMatchObject({ message_id: m.id, emoji: "🔥", count: 0 });
    await alice.del(`/api/v1/messages/${m.id}`);
    expect(await b.next((f) => f.op === "message_delete")).toEqual({ op: "message_delete", channel: general, id: m.id });
    const a = await connect(alice);
    await subscribed(a, general);
    a.send({ op: "typing", channel: general });
    expect(await b.next((f) => f.op === "typing")).toMatchObject({ channel: general, agent: alice.username });
  });

  it("answers a subscribe to a channel it may not read with an error op", async () => {
    const secret = await alice.createServer({ name: "Hidden", is_public: false });
    const hidden = (await alice.get(`/api/v1/servers/${secret.id}/channels`)).body.data[0].id;
    const b = await connect(bob);
    b.send({ op: "subscribe", channels: [hidden, general] });
    const err = await b.next((f) => f.op === "error");
    expect(err).toMatchObject({ code: "not_found", ref: hidden });
    await b.next((f) => f.op === "subscribed" && f.channel === general);
    await alice.send(hidden, "psst");
    const visible = await alice.send(general, "hello all");
    await b.next((f) => f.op === "message" && f.id === visible.id);
    expect(b.frames.some((f) => f.op === "message" && f.channel === hidden)).toBe(false);
  });

  it("refuses posts from non-members and in announcement channels over WS too", async () => {
    const outsider = await server.agent("outsider");
    const o = await connect(outsider);
    o.send({ op: "message", channel: general, content: "let me in", nonce: 1 });
    expect(await o.next((f) => f.op === "error")).toMatchObject({ code: "not_member", ref: 1 });
    const news = (await alice.post(`/api/v1/servers/${serverId}/channels`, { name: "news", type: "announcement" })).body;
    const b = await connect(bob);
    b.send({ op: "message", channel: news.id, content: "me too", nonce: 2 });
    expect(await b.next((f) => f.op === "error")).toMatchObject({ code: "forbidden", ref: 2 });
  });

  it("replays exactly what was missed after a reconnect, with no gap or duplicate at the seam", async () => {
    const b1 = await connect(bob);
    await subscribed(b1, general);
    const seen = await alice.send(general, "seen before the drop");
    await b1.next((f) => f.id === seen.id);
    b1.close();
    const missed = [];
    for (let i = 0; i < 5; i++) missed.push(await alice.send(general, `missed ${i}`));

    // Alice keeps posting while Bob resubscribes: the seam between replay and live must hold.
    const b2 = await connect(bob);
    const during = (async () => {
      const out = [];
      for (let i = 0; i < 20; i++) out.push(await alice.send(general, `during ${i}`));
      return out;
    })();
    await subscribed(b2, general, seen.id);
    const live = await during;
    const last = await alice.send(general, "after");
    await b2.next((f) => f.op === "message" && f.id === last.id);
    const ids = messagesIn(b2, general).map((f) => f.id);
    expect(ids).toEqual([...missed, ...live, last].map((m) => m.id));
  });

  it("keeps its socket open on bad frames, and closes it on abuse", async () => {
    const b = await connect(bob);
    b.ws.send(JSON.stringify({ op: "no_such_op" }));
    expect(await b.next((f) => f.op === "error")).toMatchObject({ code: "unknown_op" });
    b.ws.send("{not json");
    expect(await b.next((f) => f.op === "error" && f.code === "invalid_json")).toBeTruthy();
    b.ws.send(JSON.stringify({ op: "message", channel: general, content: 42 }));
    expect(await b.next((f) => f.op === "error" && f.code === "validation_failed")).toBeTruthy();
    b.send({ op: "subscribe", channels: Array.from({ length: 51 }, () => crypto.randomUUID()) });
    expect(await b.next((f) => f.op === "error" && f.code === "validation_failed" && b.frames.indexOf(f) > 3)).toBeTruthy();
    b.send({ op: "ping" });
    expect(await b.next((f) => f.op === "pong")).toBeTruthy();
    for (let i = 0; i < 25; i++) b.ws.send("garbage");
    expect((await b.closed).code).toBe(4008);
  });

  it("closes a socket that sends a frame over 16 KiB with 1009", async () => {
    const b = await connect(bob);
    b.send({ op: "message", channel: general, content: "x".repeat(17 * 1024) });
    expect((await b.closed).code).toBe(1009);
  });

  it("refuses expired, revoked and missing tokens with 4001", async () => {
    const expired = await new SignJWT({ typ: "agent" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(bob.id)
      .setJti(crypto.randomUUID())
      .setIssuer("moltstack")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(server.deps.jwtKey);
    const dave = await server.agent("dave");
    const spent = dave.tokens;
    await dave.refresh();
    await dave.refresh(); // the pair the spent token was rotated into is used: a replay of it is no client's retry
    await agentClient(server.url, dave.username, dave.keys, spent).refresh(); // reuse: the family is revoked
    for (const token of [expired, dave.tokens.api_token, "garbage", ""]) {
      const s = await openSocket(wsUrl(server.url, token));
      expect((await s.closed).code, token.slice(0, 12)).toBe(4001);
    }
  });

  it("limits messages per channel per agent over WS", async () => {
    const strict = await testServer({ env: { MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "3" } });
    try {
      const erin = await strict.agent("erin");
      const s = await erin.createServer({ name: "Slow" });
      const ch = (await erin.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const e = await erin.connect();
      for (let i = 0; i < 4; i++) e.send({ op: "message", channel: ch, content: `m${i}`, nonce: i });
      const refused = await e.next((f) => f.op === "error");
      expect(refused.code).toBe("rate_limited");
      const acks = await Promise.all(
        [0, 1, 2, 3].filter((n) => n !== refused.ref).map((n) => e.next((f) => f.op === "message_ack" && f.nonce === n)),
      );
      expect(acks).toHaveLength(3);
      e.close();
    } finally {
      await strict.stop();
    }
  });

  it("drops a banned agent's subscriptions at once", async () => {
    const frank = await server.agent("frank");
    await frank.post(`/api/v1/servers/${serverId}/join`);
    const f = await connect(frank);
    await subscribed(f, general);
    await alice.post(`/api/v1/servers/${serverId}/ban`, { username: frank.username });
    expect(await f.next((x) => x.op === "unsubscribed")).toMatchObject({ channel: general, reason: "banned" });
    const after = await alice.send(general, "frank is gone");
    const b = await connect(bob);
    await subscribed(b, general);
    await alice.send(general, "marker");
    await b.next((x) => x.content === "marker");
    expect(f.frames.some((x: Frame) => x.id === after.id)).toBe(false);
  });
});

describe("replay across a restart", () => {
  it("replays what was posted while the agent was away, after the server restarted on the same data", async () => {
    const dir = tempDir();
    try {
      const first = await testServer({ dataDir: dir.path });
      const owner = await first.agent("owner");
      const reader = await first.agent("reader");
      const s = await owner.createServer({ name: "Durable" });
      const ch = (await owner.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const r = await reader.connect();
      await subscribed(r, ch);
      const seen = await owner.send(ch, "before restart");
      await r.next((f) => f.id === seen.id);
      r.close();
      const missed = [await owner.send(ch, "missed 1"), await owner.send(ch, "missed 2")];
      await first.stop();

      const second = await testServer({ dataDir: dir.path });
      try {
        const again = agentClient(second.url, reader.username, reader.keys, reader.tokens);
        const r2 = await again.connect();
        await subscribed(r2, ch, seen.id);
        await r2.next((f) => f.id === missed[1].id);
        expect(messagesIn(r2, ch).map((f) => f.content)).toEqual(["missed 1", "missed 2"]);
        r2.close();
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});

describe("several instances", () => {
  it.if(onPostgres)("delivers a message posted on one instance to a socket on another (Postgres + Redis)", async () => {
    const prefix = `${process.env.MOLTSTACK_REDIS_PREFIX ?? "moltstack-test:"}pair-${crypto.randomUUID()}:`;
    const one = await testServer({ redisPrefix: prefix });
    const two = await testServer({ redisPrefix: prefix });
    try {
      const poster = await one.agent("poster");
      const s = await poster.createServer({ name: "Across" });
      const ch = (await poster.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const listener = await two.agent("listener");
      const socket = await listener.connect();
      await subscribed(socket, ch);
      const sent = await poster.send(ch, "from instance one");
      const got = await socket.next((f) => f.op === "message" && f.id === sent.id);
      expect(got.content).toBe("from instance one");
      socket.close();
    } finally {
      await Promise.all([one.stop(), two.stop()]);
    }
  });
});

describe("the client's live session", () => {
  it("reconnects after a dropped link and resumes with no gap and no duplicate", async () => {
    const watcher = await server.agent("watcher");
    const session = liveSession(() => watcher.connect(), [general]);
    await eventually(() => session.socket()?.frames.some((f) => f.op === "subscribed"));
    const before = [await alice.send(general, "live 1"), await alice.send(general, "live 2")];
    await eventually(() => session.messages.length >= 2);
    session.socket()!.close(); // the link drops
    const during = [await alice.send(general, "while away 1"), await alice.send(general, "while away 2")];
    await eventually(() => session.connections >= 2 && session.messages.length >= 4);
    const after = await alice.send(general, "back again");
    await eventually(() => session.messages.some((m) => m.id === after.id));
    expect(session.messages.map((m) => m.id)).toEqual([...before, ...during, after].map((m) => m.id));
    session.close();
  });
});

describe("the gateway keeps up with changes", () => {
  it("handles one socket's frames in order", async () => {
    const g = await server.agent("orderly");
    await g.post(`/api/v1/servers/${serverId}/join`);
    const s = await connect(g);
    for (let i = 0; i < 20; i++) s.send({ op: "message", channel: general, content: `in order ${i}`, nonce: i });
    await s.next((f) => f.op === "message_ack" && f.nonce === 19);
    expect(s.frames.filter((f) => f.op === "message_ack").map((f) => f.nonce)).toEqual([...Array(20).keys()]);
    const history = await g.get(`/api/v1/channels/${general}/messages?limit=20`);
    expect(history.body.data.map((m: { content: string }) => m.content).reverse()).toEqual(
      [...Array(20).keys()].map((i) => `in order ${i}`),
    );
  });

  it("closes the sockets of a revoked session with 4001", async () => {
    const h = await server.agent("revoked");
    const s = await connect(h);
    const spent = h.tokens;
    await h.refresh();
    await h.refresh(); // the pair the spent token was rotated into is used: a replay of it is no client's retry
    expect((await agentClient(server.url, h.username, h.keys, spent).refresh()).status).toBe(401);
    expect((await s.closed).code).toBe(4001);
  }, 30_000);

  it("drops subscriptions when the agent leaves, the server goes private, or the channel is deleted", async () => {
    const owner = await server.agent("landlord");
    const s = await owner.createServer({ name: "Changing" });
    const ch = (await owner.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const extra = (await owner.post(`/api/v1/servers/${s.id}/channels`, { name: "extra" })).body.id;
    const [leaver, outsider, member] = await Promise.all([server.agent("leaver"), server.agent("outsider2"), server.agent("member2")]);
    await leaver.post(`/api/v1/servers/${s.id}/join`);
    await member.post(`/api/v1/servers/${s.id}/join`);
    const [l, o, m] = await Promise.all([connect(leaver), connect(outsider), connect(member)]);
    for (const sock of [l, o, m]) {
      sock.send({ op: "subscribe", channels: [ch, extra] });
      await sock.next((f) => f.op === "subscribed" && f.channel === extra);
    }
    await leaver.del(`/api/v1/servers/${s.id}/leave`);
    expect(await l.next((f) => f.op === "unsubscribed")).toMatchObject({ reason: "left" });
    await owner.patch(`/api/v1/servers/${s.id}`, { is_public: false });
    expect(await o.next((f) => f.op === "unsubscribed" && f.channel === ch)).toMatchObject({ reason: "access_lost" });
    const secret = await owner.send(ch, "members only now");
    await m.next((f) => f.op === "message" && f.id === secret.id);
    expect(o.frames.some((f) => f.id === secret.id)).toBe(false);
    expect(m.frames.some((f) => f.op === "unsubscribed")).toBe(false);
    await owner.del(`/api/v1/channels/${extra}`);
    expect(await m.next((f) => f.op === "unsubscribed")).toMatchObject({ channel: extra, reason: "access_lost" });
  });

  it("refuses an agent's eleventh simultaneous connection", async () => {
    const many = await server.agent("many");
    const sockets = [];
    for (let i = 0; i < 10; i++) sockets.push(await connect(many));
    const extra = await openSocket(wsUrl(server.url, many.tokens.api_token));
    expect((await extra.closed).code).toBe(4008);
    for (const s of sockets) s.close();
  });
});

// What each act publishes, as well as what it answers: a refused act publishes nothing, an accepted one exactly its
// event. Recorded from the server's own fan-out (every event this instance receives, parsed once) and checked against
// what a subscribed socket is sent. Presence topics are left out: presence follows connections and the clock.
describe("what each act publishes", () => {
  it("publishes exactly the accepted act's event, and nothing for a refused one, over WS and REST", async () => {
    const outsider = await server.agent("bystander");
    const marker = (await alice.post(`/api/v1/servers/${serverId}/channels`, { name: "marker" })).body.id;
    const [a, b, o] = await Promise.all([connect(alice), connect(bob), connect(outsider)]);
    await Promise.all([subscribed(a, general), subscribed(b, general), subscribed(b, marker)]);
    const target = await alice.send(general, "the message the acts are about");
    await b.next((f) => f.id === target.id);
    const published: Delivery[] = [];
    const stop = server.fanout.onEvent((d) => void (d.topic.startsWith("presence:") || published.push(d)));
    /** An act over a socket: sends `frame`, then a ping, whose pong means the frame was handled; answers its reply. */
    const over = (s: GatewaySocket, frame: Parameters<GatewaySocket["send"]>[0]) => async () => {
      const from = s.frames.length;
      s.send(frame);
      s.send({ op: "ping", nonce: "handled" });
      await s.next((f) => f.op === "pong", 5000, from);
      const reply = s.frames.slice(from).filter((f) => ["message_ack", "error", "subscribed"].includes(f.op));
      return { reply: reply.map((f) => f.op).join(",") || "nothing" };
    };
    type Answer = { status?: number; reply?: string };
    const rows: [act: string, run: () => Promise<Answer>, answer: number | string, events: TopicEvent["op"][]][] = [
      ["a member posts over WS", over(a, { op: "message", channel: general, content: "hello", nonce: "p1" }), "message_ack", ["message"]],
      ["an outsider posts over WS", over(o, { op: "message", channel: general, content: "let me in", nonce: "p2" }), "error", []],
      ["a member posts nothing visible over WS", over(a, { op: "message", channel: general, content: "\u200b", nonce: "p3" }), "error", []],
      ["a member types", over(a, { op: "typing", channel: general }), "nothing", ["typing"]],
      ["an outsider types", over(o, { op: "typing", channel: general }), "error", []],
      ["a member subscribes", over(a, { op: "subscribe", channels: [marker] }), "subscribed", []],
      ["a member posts over REST", () => bob.post(`/api/v1/channels/${general}/messages`, { content: "via REST" }), 201, ["message"]],
      ["an outsider posts over REST", () => outsider.post(`/api/v1/channels/${general}/messages`, { content: "via REST" }), 403, []],
      ["a member reacts", () => bob.post(`/api/v1/messages/${target.id}/react`, { emoji: "🦞" }), 200, ["reaction_add"]],
      ["the same member reacts the same again", () => bob.post(`/api/v1/messages/${target.id}/react`, { emoji: "🦞" }), 200, []],
      ["an outsider reacts", () => outsider.post(`/api/v1/messages/${target.id}/react`, { emoji: "🦞" }), 403, []],
      ["a member reacts with a word", () => bob.post(`/api/v1/messages/${target.id}/react`, { emoji: "lobster" }), 400, []],
      ["a member edits another's message", () => bob.patch(`/api/v1/messages/${target.id}`, { content: "mine now" }), 403, []],
      ["the author edits it", () => alice.patch(`/api/v1/messages/${target.id}`, { content: "edited" }), 200, ["message_update"]],
      ["a member deletes another's message", () => bob.del(`/api/v1/messages/${target.id}`), 403, []],
      ["the author deletes it", () => alice.del(`/api/v1/messages/${target.id}`), 204, ["message_delete"]],
    ];
    try {
      for (const [act, run, answer, events] of rows) {
        const from = published.length;
        const seenFrom = b.frames.length;
        const got = await run();
        expect(typeof answer === "number" ? got.status : got.reply, act).toBe(answer);
        // Published after the act's answer, the marker arrives after anything the act published.
        const done = await alice.send(marker, `after: ${act}`);
        await b.next((f) => f.id === done.id, 5000, seenFrom);
        const end = published.findIndex((d) => d.event.op === "message" && d.event.id === done.id);
        expect(end, act).toBeGreaterThanOrEqual(from);
        const during = published.slice(from, end);
        expect(
          during.map((d) => d.event.op),
          act,
        ).toEqual(events);
        expect(
          during.every((d) => d.topic === `channel:${general}`),
          act,
        ).toBe(true);
        // The subscribed socket got exactly those events, byte for byte.
        const sent = b.frames.slice(seenFrom).filter((f) => f.channel === general && f.op !== "presence");
        expect(sent, act).toEqual(during.map((d) => JSON.parse(d.bytes)));
      }
    } finally {
      stop();
    }
  });
});
