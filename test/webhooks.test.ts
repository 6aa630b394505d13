import { setDefaultTimeout } from "bun:test";
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, agentClient } from "../src/client/agent.ts";
import { eventually, tempDir, testServer, useServer } from "./helpers.ts";

// Tests start real servers and wait for retries: seconds, not milliseconds.
setDefaultTimeout(60_000);

type Hit = { path: string; at: number; status: number; headers: Headers; raw: string; body: any };

/** A real HTTP endpoint on loopback, as an agent would run one: records every POST and answers from a script. */
function receiver() {
  const hits: Hit[] = [];
  const scripts = new Map<string, number[]>();
  const http = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const raw = await req.text();
      const status = scripts.get(path)?.shift() ?? 200;
      hits.push({ path, at: Date.now(), status, headers: req.headers, raw, body: JSON.parse(raw) });
      return new Response(status === 200 ? "ok" : "nope", { status });
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${http.port}${path}`,
    hits: (path: string) => hits.filter((h) => h.path === path),
    /** The next answers for `path`, in turn; 200 after them. */
    script: (path: string, statuses: number[]) => scripts.set(path, [...statuses]),
    /** The hits on `path` once there are at least `count`. */
    waitFor: (path: string, count: number): Promise<Hit[]> =>
      eventually(() => {
        const on = hits.filter((h) => h.path === path);
        if (on.length < count) throw new Error(`${path}: ${on.length} of ${count} hits`);
        return on;
      }),
    stop: () => http.stop(true),
  };
}

/** What a careful agent does with a delivery: recompute the signature with its secret over the raw body. */
function verify(secret: string, hit: Hit): boolean {
  const timestamp = hit.headers.get("x-moltstack-timestamp") ?? "";
  const expected = `v1=${createHmac("sha256", secret).update(`${timestamp}.${hit.raw}`).digest("hex")}`;
  return hit.headers.get("x-moltstack-signature") === expected && Math.abs(Date.now() / 1000 - Number(timestamp)) < 60;
}

const env = {
  MOLTSTACK_ALLOW_PRIVATE_WEBHOOKS: "1",
  MOLTSTACK_WEBHOOK_RETRY_BASE_MS: "50",
  MOLTSTACK_WEBHOOK_WAKE_WINDOW_SECONDS: "3",
};

let hooks: ReturnType<typeof receiver>;
const server = useServer({ env });
let alice: AgentClient;
let channelId: string;

beforeAll(async () => {
  hooks = receiver();
  alice = await server.agent("alice");
  const s = await alice.createServer({ name: "Wake Lab" });
  const channels = await alice.get(`/api/v1/servers/${s.id}/channels`);
  channelId = channels.body.data.find((c: { name: string }) => c.name === "general").id;
});
afterAll(async () => {
  hooks?.stop();
});

/** A member of the lab with a webhook on the receiver; answers the agent, its hook path and its secret. */
async function sleeper(name: string, config: Record<string, unknown> = {}, on = () => server) {
  const agent = await on().agent(name);
  const s = await alice.get(`/api/v1/channels/${channelId}`);
  expect((await agent.post(`/api/v1/servers/${s.body.server_id}/join`)).status).toBe(200);
  const path = `/hook/${agent.username}`;
  const res = await agent.patch("/api/v1/agents/@me/config", { webhook_url: hooks.url(path), ...config });
  expect(res.status).toBe(200);
  return { agent, path, secret: res.body.webhook_secret as string };
}

async function deliveries(agent: AgentClient, status?: string): Promise<any[]> {
  const res = await agent.get(`/api/v1/agents/@me/webhook-deliveries${status ? `?status=${status}` : ""}`);
  expect(res.status).toBe(200);
  return res.body.data;
}

const aboutMessage = (messageId: string) => (d: any) =>
  d.payload?.data?.message?.id === messageId || d.payload?.data?.events?.some((e: any) => e.data.message.id === messageId);

describe("webhook wake-ups", () => {
  it("wakes an offline agent mentioned in a channel, with a signature it can verify", async () => {
    const bob = await sleeper("bob");
    const sent = await alice.send(channelId, `hello @${bob.agent.username}, got a minute?`);
    const [hit] = await hooks.waitFor(bob.path, 1);
    expect(verify(bob.secret, hit)).toBe(true);
    expect(verify("whsec_not_the_secret", hit)).toBe(false);
    expect(Object.keys(hit.body)).toEqual(["id", "type", "created_at", "inbox_cursor", "data"]);
    expect(hit.headers.get("x-moltstack-event-id")).toBe(hit.body.id);
    expect(hit.headers.get("content-type")).toContain("application/json");
    expect(hit.body).toMatchObject({
      type: "mention.received",
      data: {
        channel: { id: channelId, name: "general", type: "text" },
        message: { id: sent.id, content: sent.content, channel_id: channelId },
        from: { id: alice.id, username: alice.username },
      },
    });
    // The wake names its place in bob's inbox: the item of this very message.
    const inbox = await bob.agent.get("/api/v1/agents/@me/inbox");
    expect(inbox.body.data.find((i: { message: { id: string } }) => i.message.id === sent.id).id).toBe(hit.body.inbox_cursor);
    const row = await eventually(async () => (await deliveries(bob.agent, "delivered"))[0], { what: "delivered" });
    expect(row).toMatchObject({
      id: hit.body.id,
      type: "mention.received",
      status: "delivered",
      attempts: 1,
      last_status: 200,
      last_error: null,
    });
    // Nobody else sees it.
    expect(await deliveries(alice)).toEqual([]);
  });

  it("wakes the author of a message that gets a reply, once even when the reply also mentions it", async () => {
    const carl = await sleeper("carl");
    const mine = await carl.agent.send(channelId, "a thought worth answering");
    const reply = await alice.send(channelId, `@${carl.agent.username} agreed`, { reply_to: mine.id });
    const [hit] = await hooks.waitFor(carl.path, 1);
    expect(verify(carl.secret, hit)).toBe(true);
    expect(hit.body).toMatchObject({
      type: "reply.received",
      data: { message: { id: reply.id, reply_to: mine.id }, from: { username: alice.username } },
    });
    expect((await deliveries(carl.agent)).filter(aboutMessage(reply.id))).toHaveLength(1);
  });

  it("wakes an offline friend with a DM (and not while it is online), and wakes on a friend request", async () => {
    const erin = await sleeper("erin", { webhook_events: ["dm.received", "friend_request.received"] });
    const fred = await server.agent("fred");
    expect((await fred.post("/api/v1/friends/request", { username: erin.agent.username })).status).toBe(201);
    const [request] = await hooks.waitFor(erin.path, 1);
    expect(verify(erin.secret, request)).toBe(true);
    expect(request.body).toMatchObject({ type: "friend_request.received", data: { from: { username: fred.username } } });
    const accepted = await erin.agent.post("/api/v1/friends/accept", { username: fred.username });
    const dm = accepted.body.dm_channel_id;
    const sent = await fred.send(dm, "psst, erin");
    const hits = await hooks.waitFor(erin.path, 2);
    expect(verify(erin.secret, hits[1])).toBe(true);
    expect(hits[1].body).toMatchObject({
      type: "dm.received",
      data: { message: { id: sent.id, content: "psst, erin" }, from: { username: fred.username } },
    });
    // Online, the same DM wakes nothing.
    const socket = await erin.agent.connect();
    const again = await fred.send(dm, "you there?");
    await Bun.sleep(300);
    expect((await deliveries(erin.agent)).filter(aboutMessage(again.id))).toEqual([]);
    socket.close();
    // Blocked, a DM cannot even be sent, so it cannot wake.
    await erin.agent.post(`/api/v1/blocks/${fred.username}`);
    expect((await fred.post(`/api/v1/channels/${dm}/messages`, { content: "let me in" })).status).toBe(404);
    expect((await fred.post("/api/v1/friends/request", { username: erin.agent.username })).status).toBe(201);
    await Bun.sleep(300);
    expect(hooks.hits(erin.path)).toHaveLength(2);
  });

  it("never wakes anyone for plain channel chatter, or for events it did not ask for", async () => {
    const dora = await sleeper("dora", { webhook_events: ["reply.received"] });
    const chatter = await alice.send(channelId, "just chatting about the weather");
    const mention = await alice.send(channelId, `@${dora.agent.username} look at this`);
    expect((await deliveries(dora.agent)).filter(aboutMessage(chatter.id))).toEqual([]);
    expect((await deliveries(dora.agent)).filter(aboutMessage(mention.id))).toEqual([]);
    const hers = await dora.agent.send(channelId, "my take");
    const reply = await alice.send(channelId, "good take", { reply_to: hers.id });
    const hits = await hooks.waitFor(dora.path, 1);
    expect(hits.map((h) => h.body.data.message.id)).toEqual([reply.id]);
  });

  it("does not wake an agent that is connected, nor one that blocks the sender", async () => {
    const eve = await sleeper("eve");
    const socket = await eve.agent.connect();
    try {
      const whileOnline = await alice.send(channelId, `@${eve.agent.username} are you there?`);
      expect((await deliveries(eve.agent)).filter(aboutMessage(whileOnline.id))).toEqual([]);
    } finally {
      socket.close();
      await socket.closed;
    }
    expect((await eve.agent.post(`/api/v1/blocks/${alice.username}`)).status).toBe(201);
    const blocked = await alice.send(channelId, `@${eve.agent.username} hello?`);
    expect((await deliveries(eve.agent)).filter(aboutMessage(blocked.id))).toEqual([]);
    // Someone she does not block still wakes her once she is gone.
    const friend = await server.agent("friend");
    await friend.post(`/api/v1/servers/${(await alice.get(`/api/v1/channels/${channelId}`)).body.server_id}/join`);
    const later = await eventually(
      async () => {
        const m = await friend.send(channelId, `@${eve.agent.username} ping`);
        return (await deliveries(eve.agent)).some(aboutMessage(m.id)) ? m : undefined;
      },
      { what: "offline" },
    );
    const hits = await hooks.waitFor(eve.path, 1);
    expect(hits.map((h) => h.body.data.message.id)).toContain(later.id);
    expect(hits.map((h) => h.body.data.message.id)).not.toContain(blocked.id);
  });

  it("retries a failing receiver and records exactly one accepted delivery", async () => {
    const finn = await sleeper("finn");
    hooks.script(finn.path, [500, 502]);
    const sent = await alice.send(channelId, `@${finn.agent.username} third time lucky`);
    const row = await eventually(async () => (await deliveries(finn.agent, "delivered")).find(aboutMessage(sent.id)), {
      what: "delivered",
    });
    expect(row).toMatchObject({ attempts: 3, last_status: 200, last_error: null, status: "delivered" });
    const hits = hooks.hits(finn.path);
    expect(hits.map((h) => h.status)).toEqual([500, 502, 200]);
    expect(new Set(hits.map((h) => h.headers.get("x-moltstack-event-id")))).toEqual(new Set([row.id]));
    expect(hits.every((h) => verify(finn.secret, h))).toBe(true);
  });

  it("gives up after a bounded number of attempts and shows the delivery dead", async () => {
    const gus = await sleeper("gus");
    hooks.script(gus.path, Array(20).fill(503));
    const sent = await alice.send(channelId, `@${gus.agent.username} anyone home?`);
    const row = await eventually(async () => (await deliveries(gus.agent, "dead")).find(aboutMessage(sent.id)), {
      what: "dead",
      timeout: 30_000,
    });
    expect(row).toMatchObject({
      status: "dead",
      attempts: 8,
      last_status: 503,
      last_error: "HTTP 503",
      delivered_at: null,
      next_attempt_at: null,
    });
    expect(hooks.hits(gus.path)).toHaveLength(8);
  });

  it("holds wakes past max_inbound_wakes_per_hour and sends them together at the next allowed wake", async () => {
    const hal = await sleeper("hal", { max_inbound_wakes_per_hour: 2 });
    const sent = [];
    for (let i = 1; i <= 5; i++) sent.push(await alice.send(channelId, `@${hal.agent.username} number ${i}`));
    const rows = await deliveries(hal.agent);
    expect(rows.filter((r) => r.type === "mention.received")).toHaveLength(2);
    const held = rows.filter((r) => r.type === "wake.batch");
    expect(held).toHaveLength(1);
    expect(held[0].payload.data.events.map((e: any) => e.data.message.id)).toEqual(sent.slice(2).map((m) => m.id));

    const hits = await hooks.waitFor(hal.path, 3);
    expect(hits.map((h) => h.body.type)).toEqual(["mention.received", "mention.received", "wake.batch"]);
    expect(hits.slice(0, 2).map((h) => h.body.data.message.id)).toEqual(sent.slice(0, 2).map((m) => m.id));
    const batch = hits[2].body;
    expect(verify(hal.secret, hits[2])).toBe(true);
    expect(batch.data.events.map((e: any) => [e.type, e.data.message.id])).toEqual(sent.slice(2).map((m) => ["mention.received", m.id]));
    expect(batch.data.omitted).toBe(0);
    // Held until the first wake left the (3 s, for the test) window.
    expect(hits[2].at - hits[0].at).toBeGreaterThan(2_000);
    await Bun.sleep(300);
    expect(hooks.hits(hal.path)).toHaveLength(3);
  });
});

describe("webhook outbox across a restart", () => {
  it("loses nothing: a delivery waiting for its retry is sent by the next process", async () => {
    const dir = tempDir();
    try {
      const first = await testServer({ dataDir: dir.path, env: { ...env, MOLTSTACK_WEBHOOK_RETRY_BASE_MS: "2000" } });
      const host = await first.agent("host");
      const s = await host.createServer({ name: "Restart Lab" });
      const general = (await host.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const ivy = await first.agent("ivy");
      await ivy.post(`/api/v1/servers/${s.id}/join`);
      const path = `/hook/${ivy.username}`;
      const { webhook_secret: secret } = (await ivy.patch("/api/v1/agents/@me/config", { webhook_url: hooks.url(path) })).body;
      hooks.script(path, [500]);
      const sent = await host.send(general, `@${ivy.username} survive this`);
      await eventually(async () => (await deliveries(ivy, "pending")).find((d) => d.attempts === 1 && d.last_status === 500), {
        what: "first attempt failed",
      });
      await first.stop();

      const second = await testServer({ dataDir: dir.path, env });
      try {
        const again = agentClient(second.url, ivy.username, ivy.keys, ivy.tokens);
        const row = await eventually(async () => (await deliveries(again, "delivered")).find(aboutMessage(sent.id)), {
          what: "delivered after restart",
        });
        expect(row).toMatchObject({ attempts: 2, last_status: 200 });
        const hits = hooks.hits(path);
        expect(hits.map((h) => h.status)).toEqual([500, 200]);
        expect(hits.map((h) => h.body.id)).toEqual([row.id, row.id]);
        expect(verify(secret, hits[1])).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
