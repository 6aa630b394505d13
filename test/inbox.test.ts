// The inbox: an agent that slept catches up on what was addressed to it, from a cursor it can store on the server.

import { setDefaultTimeout } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { rows } from "../src/db/client.ts";
import { inTransaction } from "../src/db/rls.ts";
import { inboxItems } from "../src/db/schema.ts";
import { address } from "../src/domain/inbox.ts";
import { eventually, onPostgres, useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let host: AgentClient;
let serverId: string;
let general: string;

beforeAll(async () => {
  host = await server.agent("host");
  const s = await host.createServer({ name: "Inbox Lab" });
  serverId = s.id;
  general = (await host.get(`/api/v1/servers/${s.id}/channels`)).body.data.find((c: { name: string }) => c.name === "general").id;
});

async function member(name: string): Promise<AgentClient> {
  const agent = await server.agent(name);
  expect((await agent.post(`/api/v1/servers/${serverId}/join`)).status).toBe(200);
  return agent;
}

async function inbox(agent: AgentClient, query = ""): Promise<{ data: any[]; has_more: boolean; next_cursor: string | null }> {
  const res = await agent.get(`/api/v1/agents/@me/inbox${query}`);
  expect(res.status).toBe(200);
  return res.body;
}

/** The ids of the messages in an agent's inbox, in order. */
async function messageIds(agent: AgentClient): Promise<string[]> {
  return (await inbox(agent, "?limit=100")).data.flatMap((i) => (i.message ? [i.message.id] : []));
}

/** Resolves once some transaction waits for an advisory lock (PostgreSQL). */
function someoneWaitsForALock(): Promise<true> {
  return eventually(
    async () => {
      const [row] = await inTransaction(server.deps.database, { role: "system" }, (tx) =>
        rows<{ n: number }>(tx, sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`),
      );
      return row.n > 0;
    },
    { interval: 10, what: "a transaction waiting for an advisory lock" },
  );
}

async function befriend(a: AgentClient, b: AgentClient): Promise<string> {
  expect((await a.post("/api/v1/friends/request", { username: b.username })).status).toBe(201);
  const accepted = await b.post("/api/v1/friends/accept", { username: a.username });
  expect(accepted.status).toBe(200);
  return accepted.body.dm_channel_id;
}

describe("inbox", () => {
  it("shows a mention to the mentioned agent with its message, and an ack moves its cursor", async () => {
    const bob = await member("bob");
    const chatter = await host.send(general, "nothing for bob here");
    const hello = await host.send(general, `hello @${bob.username}, got a minute?`);
    const first = await inbox(bob);
    expect(first.data).toHaveLength(1);
    expect(first.data[0]).toMatchObject({
      type: "mention.received",
      from: { id: host.id, username: host.username },
      channel_id: general,
      message: { id: hello.id, content: hello.content, channel_id: general, agent: { id: host.id } },
      friend_request: null,
    });
    expect(first.next_cursor).toBe(first.data[0].id);
    expect(JSON.stringify(first)).not.toContain(chatter.id);
    // The sender's own inbox holds nothing of it.
    expect((await inbox(host)).data.map((i) => i.message?.id)).not.toContain(hello.id);

    // A reply that also mentions bob is one item, a reply.
    const mine = await bob.send(general, "sure, what is it?");
    const reply = await host.send(general, `@${bob.username} this`, { reply_to: mine.id });
    const after = await inbox(bob, `?since=${first.next_cursor}`);
    expect(after.data.map((i) => [i.type, i.message.id])).toEqual([["reply.received", reply.id]]);

    // Acknowledged: a restart (no `since`) continues after the ack; another process of bob's too.
    const ack = await bob.post("/api/v1/agents/@me/inbox/ack", { cursor: first.next_cursor });
    expect(ack).toMatchObject({ status: 200, body: { cursor: first.next_cursor } });
    expect((await inbox(bob)).data.map((i) => i.message.id)).toEqual([reply.id]);
    const secondProcess = await server.call("GET", "/api/v1/agents/@me/inbox", undefined, { token: bob.tokens.api_token });
    expect(secondProcess.body.data.map((i: any) => i.message.id)).toEqual([reply.id]);
    expect((await bob.post("/api/v1/agents/@me/inbox/ack", { cursor: after.next_cursor })).body.cursor).toBe(after.next_cursor);
    expect(await inbox(bob)).toEqual({ data: [], has_more: false, next_cursor: after.next_cursor });
    // A slower process acknowledging an older cursor does not move it back.
    expect((await bob.post("/api/v1/agents/@me/inbox/ack", { cursor: first.next_cursor })).body.cursor).toBe(after.next_cursor);
    // `since` still reads from anywhere.
    expect((await inbox(bob, `?since=${first.next_cursor}`)).data).toHaveLength(1);
  });

  it("refuses cursors that are not places in one's own inbox, and bad queries, with 400", async () => {
    const cleo = await member("cleo");
    const dan = await member("dan");
    await host.send(general, `@${dan.username} ping`);
    const dansItem = (await inbox(dan)).data[0].id;
    for (const body of [
      { cursor: dansItem },
      { cursor: "01890000-0000-7000-8000-000000000000" },
      { cursor: "nope" },
      {},
      { cursor: dansItem, extra: 1 },
    ]) {
      const res = await cleo.post("/api/v1/agents/@me/inbox/ack", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    for (const q of ["?since=garbage", "?limit=0", "?limit=101", "?limit=x"]) {
      expect((await cleo.get(`/api/v1/agents/@me/inbox${q}`)).status, q).toBe(400);
    }
    expect((await server.call("GET", "/api/v1/agents/@me/inbox")).status).toBe(401);
  });

  it("holds DMs, friend requests and their acceptance, each with what it points at", async () => {
    const [erin, fred] = await Promise.all([server.agent("erin"), server.agent("fred")]);
    const sent = await erin.post("/api/v1/friends/request", { username: fred.username });
    const [request] = (await inbox(fred)).data;
    expect(request).toMatchObject({
      type: "friend_request.received",
      from: { username: erin.username },
      message: null,
      friend_request: { id: sent.body.request_id, status: "pending", from: { username: erin.username }, to: { username: fred.username } },
    });
    const dm = (await fred.post("/api/v1/friends/accept", { username: erin.username })).body.dm_channel_id;
    const [accepted] = (await inbox(erin)).data;
    expect(accepted).toMatchObject({
      type: "friend_request.accepted",
      from: { username: fred.username },
      channel_id: dm,
      friend_request: { status: "accepted" },
    });
    const note = await erin.send(dm, "thanks for accepting");
    const fredsNow = (await inbox(fred)).data;
    expect(fredsNow.map((i) => i.type)).toEqual(["friend_request.received", "dm.received"]);
    expect(fredsNow[0].friend_request.status).toBe("accepted");
    expect(fredsNow[1]).toMatchObject({ channel_id: dm, message: { id: note.id, content: "thanks for accepting" } });

    // The friendship ends: its DM and its requests are gone from both inboxes.
    expect((await fred.del(`/api/v1/friends/${erin.username}`)).status).toBe(204);
    expect((await inbox(fred)).data).toEqual([]);
    expect((await inbox(erin)).data).toEqual([]);
  });

  it("pages oldest first with limit and has_more", async () => {
    const gus = await member("gus");
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push((await host.send(general, `@${gus.username} note ${i}`)).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    for (;;) {
      const page = await inbox(gus, `?limit=3${cursor ? `&since=${cursor}` : ""}`);
      seen.push(...page.data.map((i) => i.message.id));
      pages++;
      expect(page.next_cursor).toBe(page.data.at(-1).id);
      cursor = page.next_cursor;
      if (!page.has_more) break;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(sent);
  });

  it("lets a reader following its inbox during a burst from many channels miss nothing and see nothing twice", async () => {
    const gus = await member("gwen");
    const writers = await Promise.all([...Array(4)].map((_, i) => member(`writer${i}`)));
    // One channel per writer: posts in different channels do not queue behind each other, only the inbox orders them.
    const rooms = await Promise.all(
      writers.map(async (_, i) => (await host.post(`/api/v1/servers/${serverId}/channels`, { name: `burst-${i}` })).body.id as string),
    );
    let writing = true;
    const burst = Promise.all(
      writers.map(async (w, i) => {
        const ids: string[] = [];
        for (let n = 0; n < 8; n++) ids.push((await w.send(rooms[i], `@${gus.username} burst ${i}.${n}`)).id);
        return ids;
      }),
    ).finally(() => (writing = false));
    const seen: string[] = [];
    let cursor: string | null = null;
    const follow = async () => {
      for (;;) {
        const page = await inbox(gus, `?limit=5${cursor ? `&since=${cursor}` : ""}`);
        seen.push(...page.data.map((i) => i.message.id));
        cursor = page.next_cursor;
        if (!page.has_more) return;
      }
    };
    while (writing) await follow();
    const sent = (await burst).flat();
    await follow();
    expect(seen.toSorted()).toEqual(sent.toSorted());
  });

  // One connection in embedded mode: transactions cannot overlap there, so the seam exists only on PostgreSQL.
  it.skipIf(!onPostgres)("orders items by commit: a reader never skips one that committed after a newer one", async () => {
    const hal = await member("hal");
    const plain = await host.send(general, "nothing addressed");
    const actor = { role: "agent" as const, agentId: host.id };
    // A mention whose transaction stays open after its inbox item is written (as a slow act's would).
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const inFlight = new Promise<void>((r) => (written = r));
    const slow = inTransaction(server.deps.database, actor, async (tx, after) => {
      await address(
        server.deps,
        tx,
        actor,
        [{ agentId: hal.id, fromAgentId: host.id, type: "mention.received", messageId: plain.id, channelId: general }],
        after,
      );
      written();
      await held;
    });
    await inFlight;
    // A second mention of hal, posted meanwhile: it waits for the first to commit rather than overtaking it.
    const fast = host.send(general, `@${hal.username} right behind you`);
    await Promise.race([fast, someoneWaitsForALock()]);
    const before = await inbox(hal);
    release();
    await slow;
    const second = await fast;
    const after = await inbox(hal, before.next_cursor ? `?since=${before.next_cursor}` : "");
    expect([...before.data, ...after.data].map((i) => i.message.id)).toEqual([plain.id, second.id]);
  });

  it("never shows what the agent blocks or can no longer read", async () => {
    const [hana, ivan] = await Promise.all([member("hana"), member("ivan")]);
    const fromIvan = await ivan.send(general, `@${hana.username} from ivan`);
    const fromHost = await host.send(general, `@${hana.username} from the host`);
    const gone = await host.send(general, `@${hana.username} soon deleted`);
    expect((await inbox(hana)).data.map((i) => i.message.id)).toEqual([fromIvan.id, fromHost.id, gone.id]);

    // A deleted message leaves the inbox.
    expect((await host.del(`/api/v1/messages/${gone.id}`)).status).toBe(204);
    expect((await inbox(hana)).data.map((i) => i.message.id)).toEqual([fromIvan.id, fromHost.id]);

    // Blocking hides what the blocked agent sent, and what it sends while blocked never arrives.
    expect((await hana.post(`/api/v1/blocks/${ivan.username}`)).status).toBe(201);
    await ivan.send(general, `@${hana.username} can you hear me?`);
    expect((await inbox(hana)).data.map((i) => i.message.id)).toEqual([fromHost.id]);

    // Banned from the server: nothing from it (its channels are public, the ban is what counts).
    const [kim, lou] = await Promise.all([member("kim"), member("lou")]);
    const toKim = await host.send(general, `@${kim.username} welcome`);
    const dm = await befriend(lou, kim);
    const direct = await lou.send(dm, "psst");
    expect(await messageIds(kim)).toEqual([toKim.id, direct.id]);
    expect((await host.post(`/api/v1/servers/${serverId}/ban`, { username: kim.username })).status).toBe(201);
    expect(await messageIds(kim)).toEqual([direct.id]);
  });

  it("hides items of a channel the agent lost access to, in the database too (RLS)", async () => {
    const owner = await server.agent("owner");
    const s = await owner.createServer({ name: "Soon private" });
    const channel = (await owner.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const mia = await server.agent("mia");
    expect((await mia.post(`/api/v1/servers/${s.id}/join`)).status).toBe(200);
    const sent = await owner.send(channel, `@${mia.username} before the doors close`);
    expect((await inbox(mia)).data.map((i) => i.message.id)).toEqual([sent.id]);
    expect((await mia.del(`/api/v1/servers/${s.id}/leave`)).status).toBe(204);
    expect((await owner.patch(`/api/v1/servers/${s.id}`, { is_public: false })).status).toBe(200);
    expect((await inbox(mia)).data).toEqual([]);
    // Not a filter of the route only: under mia's identity the database itself returns no such row.
    const asMia = await inTransaction(server.deps.database, { role: "agent", agentId: mia.id }, (tx) =>
      tx.select().from(inboxItems).where(eq(inboxItems.agentId, mia.id)),
    );
    expect(asMia).toEqual([]);
    const asPlatform = await inTransaction(server.deps.database, { role: "system" }, (tx) =>
      tx.select().from(inboxItems).where(eq(inboxItems.agentId, mia.id)),
    );
    expect(asPlatform.map((r) => r.messageId)).toEqual([sent.id]);
    // Nobody reads another agent's inbox rows, and an agent cannot write into one.
    const asOwner = await inTransaction(server.deps.database, { role: "agent", agentId: owner.id }, (tx) =>
      tx.select().from(inboxItems).where(eq(inboxItems.agentId, mia.id)),
    );
    expect(asOwner).toEqual([]);
    const forged = inTransaction(server.deps.database, { role: "agent", agentId: owner.id }, (tx) =>
      tx.insert(inboxItems).values({ agentId: mia.id, fromAgentId: owner.id, type: "mention.received", messageId: sent.id }),
    );
    await expect(forged).rejects.toThrow();
  });
});
