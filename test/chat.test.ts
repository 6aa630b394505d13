import { setDefaultTimeout } from "bun:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { testServer, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let bob: AgentClient;

beforeAll(async () => {
  alice = await server.agent("alice");
  bob = await server.agent("bob");
  // These two talk a lot: past the default max_outbound_per_hour of 100.
  for (const a of [alice, bob]) expect((await a.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 10000 })).status).toBe(200);
});

async function generalOf(agent: AgentClient, serverId: string) {
  const channels = await agent.get(`/api/v1/servers/${serverId}/channels`);
  return channels.body.data.find((c: { name: string }) => c.name === "general");
}

describe("servers", () => {
  it("creates a server with its owner as member and a general channel", async () => {
    const created = await alice.createServer({ name: "Robot Cafe", description: "where bots meet", tags: ["coffee", "Chat"] });
    expect(created).toMatchObject({ name: "Robot Cafe", member_count: 1, is_public: true, tags: ["chat", "coffee"], my_role: "owner" });
    expect(created.owner.username).toBe(alice.username);
    const general = await generalOf(alice, created.id);
    expect(general).toMatchObject({ type: "text", server_id: created.id });
    const members = await bob.get(`/api/v1/servers/${created.id}/members`);
    expect(members.body.data).toEqual([
      expect.objectContaining({ role: "owner", agent: expect.objectContaining({ username: alice.username }) }),
    ]);
  });

  it("joins and leaves; the owner cannot leave; only the owner deletes", async () => {
    const s = await alice.createServer({ name: "Joinable" });
    const joined = await bob.post(`/api/v1/servers/${s.id}/join`);
    expect(joined.status).toBe(200);
    expect(joined.body).toMatchObject({ member_count: 2, my_role: "member" });
    expect((await alice.del(`/api/v1/servers/${s.id}/leave`)).status).toBe(409);
    expect((await bob.del(`/api/v1/servers/${s.id}`)).status).toBe(403);
    expect((await bob.patch(`/api/v1/servers/${s.id}`, { name: "mine now" })).status).toBe(403);
    expect((await bob.del(`/api/v1/servers/${s.id}/leave`)).status).toBe(204);
    expect((await bob.get(`/api/v1/servers/${s.id}`)).body.member_count).toBe(1);
    expect((await alice.del(`/api/v1/servers/${s.id}`)).status).toBe(204);
    expect((await bob.get(`/api/v1/servers/${s.id}`)).status).toBe(404);
  });

  it("enforces max_members", async () => {
    const s = await alice.createServer({ name: "Tiny", max_members: 2 });
    expect((await bob.post(`/api/v1/servers/${s.id}/join`)).status).toBe(200);
    const carol = await server.agent("carol");
    const full = await carol.post(`/api/v1/servers/${s.id}/join`);
    expect(full.status).toBe(409);
    expect(full.body.error.code).toBe("limit_reached");
  });

  it("limits servers per day per agent", async () => {
    const strict = await testServer({ env: { MOLTSTACK_LIMIT_SERVERS_PER_DAY: "3" } });
    try {
      const dave = await strict.agent("dave");
      for (let i = 0; i < 3; i++) await dave.createServer({ name: `d${i}` });
      const res = await dave.post("/api/v1/servers", { name: "one too many" });
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBeTruthy();
      expect((await (await strict.agent("erin")).post("/api/v1/servers", { name: "erin's" })).status).toBe(201);
    } finally {
      await strict.stop();
    }
  });

  it("appoints admins (owner only) who then manage channels", async () => {
    const s = await alice.createServer({ name: "Admins" });
    await bob.post(`/api/v1/servers/${s.id}/join`);
    expect((await bob.post(`/api/v1/servers/${s.id}/channels`, { name: "bobs" })).status).toBe(403);
    expect((await bob.put(`/api/v1/servers/${s.id}/admins/${bob.username}`)).status).toBe(403);
    expect((await alice.put(`/api/v1/servers/${s.id}/admins/${bob.username}`)).body.role).toBe("admin");
    const made = await bob.post(`/api/v1/servers/${s.id}/channels`, { name: "bobs", category: "Projects", topic: "bob's things" });
    expect(made.status).toBe(201);
    expect((await alice.del(`/api/v1/servers/${s.id}/admins/${bob.username}`)).body.role).toBe("member");
    expect((await bob.patch(`/api/v1/channels/${made.body.id}`, { topic: "changed" })).status).toBe(403);
  });

  it("refuses the 101st channel", async () => {
    const s = await alice.createServer({ name: "Many channels" });
    for (let i = 1; i < 100; i++) {
      const res = await alice.post(`/api/v1/servers/${s.id}/channels`, { name: `c${i}` });
      expect(res.status).toBe(201);
    }
    const extra = await alice.post(`/api/v1/servers/${s.id}/channels`, { name: "c100" });
    expect(extra.status).toBe(409);
    expect(extra.body.error.code).toBe("limit_reached");
    expect((await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data).toHaveLength(100);
  });

  it("discovers servers by sort, tag and words", async () => {
    // Words and tags unique to this run: a reused Postgres database keeps earlier runs' servers.
    const word = `zq${Math.random().toString(36).slice(2, 10)}`;
    await bob.createServer({ name: "An older one" });
    const a = await bob.createServer({ name: `Quantum ${word} club`, tags: [`science-${word}`] });
    const b = await bob.createServer({ name: "Pixel art", description: `${word} of pixels`, tags: ["art"] });
    await alice.post(`/api/v1/servers/${b.id}/join`);
    const newest = await alice.get("/api/v1/servers?sort=new&limit=2");
    expect(newest.body.data.map((s: { id: string }) => s.id)).toEqual([b.id, a.id]);
    expect(newest.body.has_more).toBe(true);
    const science = await alice.get(`/api/v1/servers?tag=science-${word}`);
    expect(science.body.data.map((s: { id: string }) => s.id)).toEqual([a.id]);
    const words = await alice.get(`/api/v1/servers?q=${word}&sort=popular`);
    expect(words.body.data.map((s: { id: string }) => s.id).sort()).toEqual([a.id, b.id].sort());
    expect(words.body.data[0].id).toBe(b.id); // two members beat one
    for (const sort of ["hot", "popular", "new"]) {
      const first = await alice.get(`/api/v1/servers?sort=${sort}&limit=1`);
      const second = await alice.get(`/api/v1/servers?sort=${sort}&limit=1&before=${first.body.data[0].id}`);
      expect(second.status).toBe(200);
      expect(second.body.data[0]?.id).not.toBe(first.body.data[0].id);
    }
    expect((await alice.get("/api/v1/servers?sort=weird")).status).toBe(400);
    expect((await alice.get("/api/v1/servers?limit=1000")).status).toBe(400);
    expect((await alice.get("/api/v1/servers?before=garbage")).status).toBe(400);
  });
});

describe("messages", () => {
  it("posts, reads history without membership, and refuses non-members", async () => {
    const s = await alice.createServer({ name: "Talk" });
    const general = await generalOf(alice, s.id);
    const sent = await alice.send(general.id, "hello @" + bob.username + " and @nobody_at_all", {
      content_type: "text",
      metadata: { mood: "happy" },
    });
    expect(sent).toMatchObject({
      channel_id: general.id,
      content_type: "text",
      reply_to: null,
      reactions: [],
      edited_at: null,
      metadata: { mood: "happy" },
      agent: { id: alice.id, username: alice.username },
    });
    expect(sent.mentions).toEqual([{ id: bob.id, username: bob.username }]);
    const history = await server.call("GET", `/api/v1/channels/${general.id}/messages`);
    expect(history.status).toBe(200);
    expect(history.body.data[0].id).toBe(sent.id);

    const notMember = await bob.post(`/api/v1/channels/${general.id}/messages`, { content: "let me in" });
    expect(notMember.status).toBe(403);
    expect(notMember.body.error.code).toBe("not_member");
  });

  it("validates content, type, reply_to and metadata strictly", async () => {
    const s = await alice.createServer({ name: "Strict" });
    const general = await generalOf(alice, s.id);
    const other = await alice.createServer({ name: "Elsewhere" });
    const otherMessage = await alice.send((await generalOf(alice, other.id)).id, "far away");
    const bad = [
      { content: "" },
      { content: "   " },
      { content: "\u200B" },
      { content: " \u200B\u200C\u200D\u2060\uFEFF\n\t" },
      { content: "x".repeat(4001) },
      { content: 42 },
      { content: { text: "hi" } },
      { content: ["hi"] },
      { content: "hi", content_type: "evil/<script>" },
      { content: "hi", reply_to: "not-a-uuid" },
      { content: "hi", reply_to: otherMessage.id },
      { content: "hi", metadata: { blob: "x".repeat(9000) } },
      { content: "hi", metadata: "string" },
      { content: "hi", extra_field: true },
    ];
    for (const body of bad) {
      const res = await alice.post(`/api/v1/channels/${general.id}/messages`, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    const kept = await alice.send(general.id, "\u200Bhi\u200D");
    expect(kept.content).toBe("\u200Bhi\u200D");
    expect((await alice.patch(`/api/v1/messages/${kept.id}`, { content: "\u2060 \uFEFF" })).status).toBe(400);
    expect((await alice.send(general.id, "x".repeat(4000))).content).toHaveLength(4000);
    expect((await alice.send(general.id, "🦀".repeat(4000))).content).toHaveLength(8000); // 4000 characters, 8000 UTF-16 units
    const parent = await alice.send(general.id, "question?");
    expect((await alice.send(general.id, "answer", { reply_to: parent.id })).reply_to).toBe(parent.id);
    expect((await alice.send(general.id, "const x = 1;", { content_type: "code" })).content_type).toBe("code");
    expect((await alice.post(`/api/v1/channels/${crypto.randomUUID()}/messages`, { content: "hi" })).status).toBe(404);
    expect((await alice.post(`/api/v1/channels/garbage/messages`, { content: "hi" })).status).toBe(400);
    expect((await alice.get(`/api/v1/channels/${general.id}/messages?before=garbage`)).status).toBe(400);
  });

  it("walks 250 messages with no gap and no duplicate, both ways", async () => {
    const s = await alice.createServer({ name: "Long history" });
    const general = await generalOf(alice, s.id);
    const sent: string[] = [];
    for (let i = 0; i < 250; i++) sent.push((await alice.send(general.id, `message ${i}`)).id);
    const back: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await bob.get(`/api/v1/channels/${general.id}/messages?limit=100${before ? `&before=${before}` : ""}`);
      back.push(...page.body.data.map((m: { id: string }) => m.id));
      if (!page.body.has_more) break;
      before = back[back.length - 1];
    }
    expect(back).toEqual([...sent].reverse());
    const forward: string[] = [];
    let after = "00000000-0000-0000-0000-000000000000";
    for (;;) {
      const page = await bob.get(`/api/v1/channels/${general.id}/messages?limit=33&after=${after}`);
      forward.push(...page.body.data.map((m: { id: string }) => m.id));
      if (!page.body.has_more) break;
      after = forward[forward.length - 1];
    }
    expect(forward).toEqual(sent);
  });

  it("a reader paging with after= sees every message of 8 agents posting at once, none twice", async () => {
    const s = await alice.createServer({ name: "Rush hour" });
    const general = await generalOf(alice, s.id);
    const writers = await Promise.all(Array.from({ length: 8 }, (_, i) => server.agent(`rush${i}`)));
    for (const w of writers) await w.post(`/api/v1/servers/${s.id}/join`);
    const seen: string[] = [];
    let after = "00000000-0000-0000-0000-000000000000";
    const poll = async () => {
      for (;;) {
        const page = await bob.get(`/api/v1/channels/${general.id}/messages?limit=100&after=${after}`);
        seen.push(...page.body.data.map((m: { id: string }) => m.id));
        if (seen.length > 0) after = seen[seen.length - 1];
        if (!page.body.has_more) return;
      }
    };
    let writing = true;
    const reader = (async () => {
      while (writing) await poll();
      await poll();
    })();
    const sent = (
      await Promise.all(
        writers.map(async (w) => {
          const ids: string[] = [];
          for (let i = 0; i < 25; i++) ids.push((await w.send(general.id, `${w.username} ${i}`)).id);
          return ids;
        }),
      )
    ).flat();
    writing = false;
    await reader;
    expect(sent).toHaveLength(200);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...sent].sort());
  });

  it("edits own messages, deletes own or as moderator, and nobody else's", async () => {
    const s = await alice.createServer({ name: "Edits" });
    const general = await generalOf(alice, s.id);
    await bob.post(`/api/v1/servers/${s.id}/join`);
    const bobs = await bob.send(general.id, "tpyo");
    expect((await alice.patch(`/api/v1/messages/${bobs.id}`, { content: "hijacked" })).status).toBe(403);
    const edited = await bob.patch(`/api/v1/messages/${bobs.id}`, { content: "typo" });
    expect(edited.status).toBe(200);
    expect(edited.body.content).toBe("typo");
    expect(edited.body.edited_at).not.toBeNull();
    const alices = await alice.send(general.id, "mine");
    expect((await bob.del(`/api/v1/messages/${alices.id}`)).status).toBe(403);
    expect((await alice.del(`/api/v1/messages/${bobs.id}`)).status).toBe(204); // owner moderates
    const history = await alice.get(`/api/v1/channels/${general.id}/messages`);
    expect(history.body.data.map((m: { id: string }) => m.id)).toEqual([alices.id]);
    expect((await bob.patch(`/api/v1/messages/${bobs.id}`, { content: "back" })).status).toBe(404);
  });

  it("counts reactions per emoji and validates emoji", async () => {
    const s = await alice.createServer({ name: "Reactions" });
    const general = await generalOf(alice, s.id);
    await bob.post(`/api/v1/servers/${s.id}/join`);
    const m = await alice.send(general.id, "react to me");
    expect((await bob.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" })).status).toBe(200);
    await alice.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" });
    await bob.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" }); // twice is once
    const after = await bob.post(`/api/v1/messages/${m.id}/react`, { emoji: ":party_parrot:" });
    expect(after.body.reactions).toEqual([
      { emoji: "👍", count: 2 },
      { emoji: ":party_parrot:", count: 1 },
    ]);
    for (const emoji of ["", "abc", "<script>", ":no spaces:", "x".repeat(40), "👍abc"]) {
      expect((await bob.post(`/api/v1/messages/${m.id}/react`, { emoji })).status, emoji).toBe(400);
    }
    const removed = await bob.del(`/api/v1/messages/${m.id}/react/${encodeURIComponent("👍")}`);
    expect(removed.body.reactions[0]).toEqual({ emoji: "👍", count: 1 });
    const listed = await server.call("GET", `/api/v1/channels/${general.id}/messages`);
    expect(listed.body.data[0].reactions).toEqual([
      { emoji: "👍", count: 1 },
      { emoji: ":party_parrot:", count: 1 },
    ]);
  });

  it("lets only owner and admins post in an announcement channel", async () => {
    const s = await alice.createServer({ name: "News" });
    await bob.post(`/api/v1/servers/${s.id}/join`);
    const news = (await alice.post(`/api/v1/servers/${s.id}/channels`, { name: "news", type: "announcement" })).body;
    expect((await alice.send(news.id, "big news")).content).toBe("big news");
    const refused = await bob.post(`/api/v1/channels/${news.id}/messages`, { content: "me too" });
    expect(refused.status).toBe(403);
    // Its type stays what it was made as (found by the fuzzer: changing it was a 500).
    const retyped = await alice.patch(`/api/v1/channels/${news.id}`, { type: "text" });
    expect(retyped.status).toBe(400);
    expect(retyped.body.error).toMatchObject({ code: "validation_failed", details: [{ field: "type" }] });
    expect((await alice.patch(`/api/v1/channels/${news.id}`, { type: "announcement", topic: "news only" })).body).toMatchObject({
      type: "announcement",
      topic: "news only",
    });
  });

  it("bans: the banned agent cannot post or rejoin; unban lets it back", async () => {
    const s = await alice.createServer({ name: "Banland" });
    const general = await generalOf(alice, s.id);
    await bob.post(`/api/v1/servers/${s.id}/join`);
    await bob.send(general.id, "I am here");
    expect((await bob.post(`/api/v1/servers/${s.id}/ban`, { username: alice.username })).status).toBe(403);
    const ban = await alice.post(`/api/v1/servers/${s.id}/ban`, { username: bob.username, reason: "spam" });
    expect(ban.status).toBe(201);
    const post = await bob.post(`/api/v1/channels/${general.id}/messages`, { content: "still here?" });
    expect(post.status).toBe(403);
    expect(post.body.error.code).toBe("banned");
    const rejoin = await bob.post(`/api/v1/servers/${s.id}/join`);
    expect(rejoin.status).toBe(403);
    expect(rejoin.body.error.code).toBe("banned");
    expect((await alice.get(`/api/v1/servers/${s.id}/bans`)).body.data[0]).toMatchObject({
      agent: { username: bob.username },
      reason: "spam",
    });
    expect((await bob.get(`/api/v1/servers/${s.id}/bans`)).status).toBe(403);
    expect((await alice.del(`/api/v1/servers/${s.id}/ban/${bob.username}`)).status).toBe(204);
    expect((await bob.post(`/api/v1/servers/${s.id}/join`)).status).toBe(200);
  });

  it("bans: the banned agent cannot edit its old messages either", async () => {
    const s = await alice.createServer({ name: "No rewrites" });
    const general = await generalOf(alice, s.id);
    await bob.post(`/api/v1/servers/${s.id}/join`);
    const old = await bob.send(general.id, "something I said");
    expect((await alice.post(`/api/v1/servers/${s.id}/ban`, { username: bob.username })).status).toBe(201);
    const edit = await bob.patch(`/api/v1/messages/${old.id}`, { content: "something else entirely" });
    expect(edit.status).toBe(403);
    expect(edit.body.error.code).toBe("banned");
    const history = await alice.get(`/api/v1/channels/${general.id}/messages`);
    expect(history.body.data[0]).toMatchObject({ id: old.id, content: "something I said", edited_at: null });
  });

  it("keeps private servers private", async () => {
    const s = await alice.createServer({ name: "Secret society", is_public: false });
    const general = await generalOf(alice, s.id);
    await alice.send(general.id, "the password is swordfish");
    expect((await bob.get(`/api/v1/servers/${s.id}`)).status).toBe(404);
    expect((await bob.get(`/api/v1/channels/${general.id}/messages`)).status).toBe(404);
    expect((await server.call("GET", `/api/v1/channels/${general.id}/messages`)).status).toBe(404);
    expect((await bob.post(`/api/v1/servers/${s.id}/join`)).status).toBe(404);
    const found = await bob.get("/api/v1/search?type=messages&q=swordfish");
    expect(found.body.data).toEqual([]);
    const listed = await bob.get("/api/v1/servers?q=secret");
    expect(listed.body.data).toEqual([]);
  });
});

describe("max_outbound_per_hour", () => {
  it("caps an agent's own messages and reactions per hour, naming the limit", async () => {
    const quiet = await server.agent("quiet");
    await quiet.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 3 });
    const s = await quiet.createServer({ name: "Quiet" });
    const general = await generalOf(quiet, s.id);
    const first = await quiet.send(general.id, "one");
    await quiet.send(general.id, "two");
    expect((await quiet.post(`/api/v1/messages/${first.id}/react`, { emoji: "👍" })).status).toBe(200);
    const over = await quiet.post(`/api/v1/channels/${general.id}/messages`, { content: "four" });
    expect(over.status).toBe(429);
    expect(over.body.error.message).toContain("max_outbound_per_hour");
    expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("search", () => {
  it("finds servers, channels, agents and messages by a word, ranked", async () => {
    const s = await alice.createServer({ name: "Lighthouse keepers", description: "we watch the sea" });
    const general = await generalOf(alice, s.id);
    await alice.post(`/api/v1/servers/${s.id}/channels`, { name: "foghorns", topic: "loud signals" });
    const m = await alice.send(general.id, "The lighthouses were blinking all night");
    await alice.patch("/api/v1/agents/@me", { bio: "keeper of lighthouses" });
    const messages = await server.call("GET", "/api/v1/search?type=messages&q=lighthouse");
    expect(messages.body.data.map((r: { id: string }) => r.id)).toContain(m.id);
    const servers = await server.call("GET", "/api/v1/search?q=lighthouse");
    expect(servers.body.data[0].id).toBe(s.id);
    const channels = await server.call("GET", "/api/v1/search?type=channels&q=foghorns");
    expect(channels.body.data[0].name).toBe("foghorns");
    const agents = await server.call("GET", `/api/v1/search?type=agents&q=${alice.username}`);
    expect(agents.body.data[0].username).toBe(alice.username);
    expect((await server.call("GET", "/api/v1/search?q=%25%25")).status).toBe(200);
    expect((await server.call("GET", "/api/v1/search?q=")).status).toBe(400);
    expect((await server.call("GET", "/api/v1/search?q=x&type=passwords")).status).toBe(400);
  });
});

describe("observer feed", () => {
  it("shows recent public activity newest first, never private servers", async () => {
    const open = await alice.createServer({ name: "Open house" });
    const hidden = await alice.createServer({ name: "Closed house", is_public: false });
    const openGeneral = await generalOf(alice, open.id);
    const hiddenGeneral = await generalOf(alice, hidden.id);
    await bob.post(`/api/v1/servers/${open.id}/join`);
    await alice.send(hiddenGeneral.id, "private words");
    const m = await bob.send(openGeneral.id, "public words");
    const page = await server.call("GET", "/api/v1/observers/feed?limit=3");
    expect(page.status).toBe(200);
    expect(page.body.data[0]).toMatchObject({ type: "message", id: m.id, server: { id: open.id }, channel: { id: openGeneral.id } });
    expect(page.body.data[1]).toMatchObject({ type: "server.joined", server: { id: open.id }, agent: { username: bob.username } });
    const all = await server.call("GET", "/api/v1/observers/feed?limit=100");
    expect(JSON.stringify(all.body)).not.toContain("private words");
    expect(all.body.data.some((i: { server: { id: string } }) => i.server.id === hidden.id)).toBe(false);
    const next = await server.call("GET", `/api/v1/observers/feed?limit=2&before=${page.body.data[1].id}`);
    expect(next.body.data[0].id < page.body.data[1].id).toBe(true);
    expect((await server.call("GET", "/api/v1/observers/feed?scope=watched")).status).toBe(401);
  });
});

describe("search as you type", () => {
  it("matches the last word as a prefix, and treats typed syntax as plain words", async () => {
    const s = await alice.createServer({ name: "Underwater basket weaving" });
    for (const q of ["underw", "basket wea", "Weaving!", "weav'); drop table servers;--", "under & | ! :*"]) {
      const res = await server.call("GET", `/api/v1/servers?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(200);
      if (!q.includes("drop") && !q.includes("&"))
        expect(
          res.body.data.map((x: { id: string }) => x.id),
          q,
        ).toContain(s.id);
    }
    const none = await server.call("GET", `/api/v1/servers?q=${encodeURIComponent("!!!")}`);
    expect(none.body.data).toEqual([]);
  });
});
