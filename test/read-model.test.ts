// The read model (src/read-model/) never answers what the database would not: random acts by random agents, and after
// each one every agent's and an anonymous caller's reads answered from memory must equal the same reads answered by
// the database under row-level security (the read model switched off for the second read). On PostgreSQL + Redis also
// across two instances: the act on one, the reads on the other, equal within a second.
import { setDefaultTimeout } from "bun:test";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { call } from "../src/client/agent.ts";
import { onPostgres, type TestServer, testServer } from "./helpers.ts";

setDefaultTimeout(240_000);

type World = {
  agents: AgentClient[];
  keys: (string | null)[];
  servers: { id: string; owner: number; channel: string }[];
  dms: Map<string, string>;
  messages: { id: string; author: number; channel: string }[];
};

const acts = (n: number) =>
  fc.oneof(
    fc.record({ act: fc.constant("join" as const), who: fc.nat(n - 1), server: fc.nat(1) }),
    fc.record({ act: fc.constant("leave" as const), who: fc.nat(n - 1), server: fc.nat(1) }),
    fc.record({ act: fc.constant("ban" as const), who: fc.nat(n - 1), server: fc.nat(1) }),
    fc.record({ act: fc.constant("unban" as const), who: fc.nat(n - 1), server: fc.nat(1) }),
    fc.record({ act: fc.constant("privacy" as const), server: fc.nat(1), open: fc.boolean() }),
    fc.record({
      act: fc.constant("describe" as const),
      server: fc.nat(1),
      words: fc.constantFrom("calm", "busy", "new"),
      tag: fc.constantFrom("ai", "chat"),
    }),
    fc.record({ act: fc.constant("topic" as const), server: fc.nat(1), topic: fc.constantFrom("rules", "news", "") }),
    fc.record({ act: fc.constant("block" as const), who: fc.nat(n - 1), whom: fc.nat(n - 1) }),
    fc.record({ act: fc.constant("unblock" as const), who: fc.nat(n - 1), whom: fc.nat(n - 1) }),
    fc.record({ act: fc.constant("friend" as const), who: fc.nat(n - 1), whom: fc.nat(n - 1) }),
    fc.record({ act: fc.constant("unfriend" as const), who: fc.nat(n - 1), whom: fc.nat(n - 1) }),
    fc.record({
      act: fc.constant("post" as const),
      who: fc.nat(n - 1),
      server: fc.nat(1),
      text: fc.string({ minLength: 1, maxLength: 40 }),
    }),
    fc.record({
      act: fc.constant("post" as const),
      who: fc.nat(n - 1),
      server: fc.nat(1),
      text: fc.string({ minLength: 1, maxLength: 40 }),
    }),
    fc.record({ act: fc.constant("dm" as const), who: fc.nat(n - 1), whom: fc.nat(n - 1) }),
    fc.record({ act: fc.constant("edit" as const), pick: fc.nat(50) }),
    fc.record({ act: fc.constant("delete" as const), pick: fc.nat(50) }),
    fc.record({ act: fc.constant("react" as const), who: fc.nat(n - 1), pick: fc.nat(50), emoji: fc.constantFrom("👍", "🎉", ":wave:") }),
    fc.record({ act: fc.constant("profile" as const), who: fc.nat(n - 1), name: fc.string({ minLength: 1, maxLength: 20 }) }),
    fc.record({ act: fc.constant("revoke_key" as const), who: fc.nat(n - 1) }),
    fc.record({ act: fc.constant("revoke_session" as const), who: fc.nat(n - 1) }),
  );
type Act = ReturnType<typeof acts> extends fc.Arbitrary<infer A> ? A : never;

async function perform(on: TestServer, world: World, a: Act): Promise<void> {
  const agent = "who" in a ? world.agents[a.who] : undefined;
  const other = "whom" in a ? world.agents[a.whom] : undefined;
  const server = "server" in a ? world.servers[a.server] : undefined;
  const owner = server ? world.agents[server.owner] : undefined;
  const message = "pick" in a && world.messages.length ? world.messages[a.pick % world.messages.length] : undefined;
  switch (a.act) {
    case "join":
      await agent!.post(`/api/v1/servers/${server!.id}/join`);
      return;
    case "leave":
      await agent!.post(`/api/v1/servers/${server!.id}/leave`);
      return;
    case "ban":
      await owner!.post(`/api/v1/servers/${server!.id}/ban`, { username: agent!.username });
      return;
    case "unban":
      await owner!.del(`/api/v1/servers/${server!.id}/ban/${agent!.username}`);
      return;
    case "privacy":
      await owner!.patch(`/api/v1/servers/${server!.id}`, { is_public: a.open });
      return;
    case "describe":
      await owner!.patch(`/api/v1/servers/${server!.id}`, { description: a.words, tags: [a.tag] });
      return;
    case "topic":
      await owner!.patch(`/api/v1/channels/${server!.channel}`, { topic: a.topic || null });
      return;
    case "block":
      await agent!.post("/api/v1/blocks", { username: other!.username });
      return;
    case "unblock":
      await agent!.del(`/api/v1/blocks/${other!.username}`);
      return;
    case "friend": {
      await agent!.post("/api/v1/friends/request", { username: other!.username });
      const accepted = await other!.post("/api/v1/friends/accept", { username: agent!.username });
      if (accepted.status === 200 && accepted.body.dm_channel_id)
        world.dms.set([a.who, a.whom].sort().join(":"), accepted.body.dm_channel_id);
      return;
    }
    case "unfriend":
      await agent!.del(`/api/v1/friends/${other!.username}`);
      return;
    case "post": {
      const posted = await agent!.post(`/api/v1/channels/${server!.channel}/messages`, { content: a.text.trim() || "x" });
      if (posted.status === 201) world.messages.push({ id: posted.body.id, author: a.who, channel: server!.channel });
      return;
    }
    case "dm": {
      const channel = world.dms.get([a.who, a.whom].sort().join(":"));
      if (!channel) return;
      const posted = await agent!.post(`/api/v1/channels/${channel}/messages`, { content: `dm from ${agent!.username}` });
      if (posted.status === 201) world.messages.push({ id: posted.body.id, author: a.who, channel });
      return;
    }
    case "edit":
      if (message) await world.agents[message.author].patch(`/api/v1/messages/${message.id}`, { content: "edited" });
      return;
    case "delete":
      if (message) await world.agents[message.author].del(`/api/v1/messages/${message.id}`);
      return;
    case "react":
      if (message) await agent!.post(`/api/v1/messages/${message.id}/react`, { emoji: a.emoji });
      return;
    case "profile":
      await agent!.patch("/api/v1/agents/@me", { display_name: a.name.trim() || "x" });
      return;
    case "revoke_key": {
      const list = await agent!.get("/api/v1/agents/@me/api-keys");
      for (const k of list.body.data ?? []) await agent!.del(`/api/v1/agents/@me/api-keys/${k.id}`);
      return;
    }
    case "revoke_session":
      // As an operator would: straight in the database, past every domain function. The triggers still tell.
      await on.deps.database.transaction(sql`select set_config('moltstack.role', 'system', true)`, (tx) =>
        tx.execute(sql`update agent_tokens set revoked = true where agent_id = ${agent!.id}`),
      );
      await agent!.login();
      return;
  }
}

/**
 * Every read the read model may answer, for every caller (agents by token and by API key, and anonymous): one's own
 * profile, each server and its channels, each channel and its history's newest pages.
 */
async function reads(on: TestServer, world: World): Promise<unknown[]> {
  const channels = [...world.servers.map((s) => s.channel), ...world.dms.values()];
  const callers: (string | null)[] = [...world.agents.map((a) => a.tokens.api_token), ...world.keys, null];
  const out: unknown[] = [];
  for (const token of callers) {
    const get = async (path: string) => {
      const res = await call(on.url, "GET", path, undefined, { token });
      return { path, status: res.status, body: res.body };
    };
    if (token) out.push(await get("/api/v1/agents/@me"));
    for (const s of world.servers) {
      out.push(await get(`/api/v1/servers/${s.id}`));
      out.push(await get(`/api/v1/servers/${s.id}/channels`));
    }
    for (const channel of channels) {
      out.push(await get(`/api/v1/channels/${channel}`));
      out.push(await get(`/api/v1/channels/${channel}/messages?limit=5`));
      out.push(await get(`/api/v1/channels/${channel}/messages`));
    }
  }
  return out;
}

/** The same reads, once from memory and once from the database alone. */
async function bothWays(on: TestServer, world: World) {
  const memory = await reads(on, world);
  on.deps.readModel.enabled = false;
  try {
    return { memory, database: await reads(on, world) };
  } finally {
    on.deps.readModel.enabled = true;
  }
}

async function makeWorld(on: TestServer, n: number): Promise<World> {
  const agents: AgentClient[] = [];
  for (let i = 0; i < n; i++) agents.push(await on.agent(`rm${i}`));
  const keys: (string | null)[] = [];
  for (const a of agents.slice(0, 2)) keys.push((await a.post("/api/v1/agents/@me/api-keys", { name: "k" })).body.api_key);
  const servers: World["servers"] = [];
  for (const owner of [0, 1]) {
    const s = await agents[owner].createServer({ name: `place ${owner}`, is_public: owner === 0 });
    const channels = await agents[owner].get(`/api/v1/servers/${s.id}/channels`);
    servers.push({ id: s.id, owner, channel: channels.body.data[0].id });
  }
  return { agents, keys, servers, dms: new Map(), messages: [] };
}

describe("the read model", () => {
  let one: TestServer;
  beforeAll(async () => {
    one = await testServer();
  });
  afterAll(() => one?.stop());

  it("answers from memory exactly what the database answers under row-level security, after any act", async () => {
    const world = await makeWorld(one, 4);
    const before = one.deps.readModel.stats.hits;
    await fc.assert(
      fc.asyncProperty(fc.array(acts(4), { minLength: 4, maxLength: 12 }), async (list) => {
        for (const a of list) {
          await perform(one, world, a);
          const { memory, database } = await bothWays(one, world);
          expect(memory).toEqual(database);
        }
      }),
      { numRuns: 6 },
    );
    // It did answer from memory (a read model that never answers would pass the comparison).
    expect(one.deps.readModel.stats.hits - before).toBeGreaterThan(100);
  });

  it("drops what it holds when it may have missed a change, and answers from the database until caught up", async () => {
    const world = await makeWorld(one, 2);
    await world.agents[0].send(world.servers[0].channel, "kept");
    await reads(one, world);
    expect(one.deps.readModel.entries.size).toBeGreaterThan(0);
    const { linkChanged } = await import("../src/read-model/store.ts");
    linkChanged(one.deps.readModel, false);
    expect(one.deps.readModel.entries.size).toBe(0);
    const hits = one.deps.readModel.stats.hits;
    await reads(one, world);
    expect(one.deps.readModel.stats.hits).toBe(hits);
    expect(one.deps.readModel.entries.size).toBe(0);
    linkChanged(one.deps.readModel, true);
    await reads(one, world);
    expect(one.deps.readModel.entries.size).toBeGreaterThan(0);
  });
});

describe.if(onPostgres)("the read model on two instances", () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await testServer();
    b = await testServer({ redisPrefix: (a.deps.config.redisPrefix as string) ?? undefined });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it("answers on one instance, within a second, what the database answers after an act on the other", async () => {
    const world = await makeWorld(a, 4);
    await fc.assert(
      fc.asyncProperty(fc.array(acts(4), { minLength: 4, maxLength: 10 }), async (list) => {
        for (const act of list) {
          await perform(a, world, act);
          const deadline = Date.now() + 1000;
          for (;;) {
            const { memory, database } = await bothWays(b, world);
            if (Bun.deepEquals(memory, database) || Date.now() > deadline) {
              expect(memory).toEqual(database);
              break;
            }
            await Bun.sleep(20);
          }
        }
      }),
      { numRuns: 4 },
    );
    expect(b.deps.readModel.stats.hits).toBeGreaterThan(100);
  });
});
