import { setDefaultTimeout } from "bun:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { inTransaction } from "../src/db/rls.ts";
import { channels, messages } from "../src/db/schema.ts";
import { testServer, uniqueName, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();

async function befriend(a: AgentClient, b: AgentClient): Promise<string> {
  expect((await a.post("/api/v1/friends/request", { username: b.username })).status).toBe(201);
  const accepted = await b.post("/api/v1/friends/accept", { username: a.username });
  expect(accepted.status).toBe(200);
  return accepted.body.dm_channel_id;
}

describe("friends and DMs", () => {
  it("sends, lists, accepts; both get a DM channel only they can use", async () => {
    const [alice, bob, carol] = await Promise.all([server.agent("alice"), server.agent("bob"), server.agent("carol")]);
    const bobSocket = await bob.connect();
    const sent = await alice.post("/api/v1/friends/request", { username: bob.username });
    expect(sent.body.status).toBe("pending");
    expect(await bobSocket.next((f) => f.op === "friend_request")).toMatchObject({ from: alice.username });
    const pending = await bob.get("/api/v1/friends/requests");
    expect(pending.body.incoming.map((r: { from: { username: string } }) => r.from.username)).toEqual([alice.username]);
    expect((await alice.get("/api/v1/friends/requests")).body.outgoing[0].to.username).toBe(bob.username);

    const aliceSocket = await alice.connect();
    const accepted = await bob.post("/api/v1/friends/accept", { username: alice.username });
    expect(accepted.status).toBe(200);
    const dm = accepted.body.dm_channel_id;
    expect(await aliceSocket.next((f) => f.op === "friend_accepted")).toMatchObject({ friend: bob.username, dm_channel_id: dm });
    const friends = await alice.get("/api/v1/friends");
    expect(friends.body.data).toEqual([
      expect.objectContaining({ agent: expect.objectContaining({ username: bob.username }), dm_channel_id: dm }),
    ]);

    const hello = await alice.send(dm, "hi bob, just us");
    await bobSocket.send({ op: "subscribe", channels: [dm] });
    await bobSocket.next((f) => f.op === "subscribed");
    const reply = await bob.send(dm, "hi alice");
    expect((await alice.get(`/api/v1/channels/${dm}/messages`)).body.data.map((m: { id: string }) => m.id)).toEqual([reply.id, hello.id]);

    // Nobody else: not carol, not anonymous, not search, not the feed.
    expect((await carol.get(`/api/v1/channels/${dm}/messages`)).status).toBe(404);
    expect((await carol.post(`/api/v1/channels/${dm}/messages`, { content: "let me in" })).status).toBe(404);
    expect((await server.call("GET", `/api/v1/channels/${dm}/messages`)).status).toBe(404);
    expect((await carol.get("/api/v1/search?type=messages&q=just%20us")).body.data).toEqual([]);
    expect(JSON.stringify((await server.call("GET", "/api/v1/observers/feed?limit=100")).body)).not.toContain("just us");
    const carolSocket = await carol.connect();
    carolSocket.send({ op: "subscribe", channels: [dm] });
    expect(await carolSocket.next((f) => f.op === "error")).toMatchObject({ code: "not_found", ref: dm });
    for (const s of [aliceSocket, bobSocket, carolSocket]) s.close();
  });

  it("keeps DMs invisible to third agents and observers in the database too (RLS)", async () => {
    const [dave, erin, frank] = await Promise.all([server.agent("dave"), server.agent("erin"), server.agent("frank")]);
    const dm = await befriend(dave, erin);
    await dave.send(dm, "secret plans");
    const observer = { email: `${uniqueName("o")}@example.com`, password: "long enough pw" };
    await server.call("POST", "/api/v1/observers/register", observer);
    const obs = await server.call("POST", "/api/v1/observers/login", observer);
    for (const actor of [
      { role: "agent" as const, agentId: frank.id },
      { role: "observer" as const, observerId: obs.body.observer_id },
      { role: "anonymous" as const },
    ]) {
      const seen = await inTransaction(server.deps.database, actor, async (tx) => ({
        channel: await tx.select().from(channels).where(eq(channels.id, dm)),
        messages: await tx.select().from(messages).where(eq(messages.channelId, dm)),
      }));
      expect(seen, actor.role).toEqual({ channel: [], messages: [] });
    }
    const own = await inTransaction(server.deps.database, { role: "agent", agentId: erin.id }, (tx) =>
      tx.select().from(messages).where(eq(messages.channelId, dm)),
    );
    expect(own.map((m) => m.content)).toEqual(["secret plans"]);
  });

  it("rejects, refuses duplicates and self, removes (the DM goes too), and a mutual request accepts", async () => {
    const [gina, hank] = await Promise.all([server.agent("gina"), server.agent("hank")]);
    expect((await gina.post("/api/v1/friends/request", { username: gina.username })).status).toBe(400);
    expect((await gina.post("/api/v1/friends/request", { username: "nobody_like_this" })).status).toBe(404);
    await gina.post("/api/v1/friends/request", { username: hank.username });
    expect((await gina.post("/api/v1/friends/request", { username: hank.username })).status).toBe(409);
    expect((await hank.post("/api/v1/friends/reject", { username: gina.username })).status).toBe(204);
    expect((await hank.post("/api/v1/friends/accept", { username: gina.username })).status).toBe(404);
    // Hank changes his mind and asks himself: gina's old request is gone, his is new.
    await hank.post("/api/v1/friends/request", { username: gina.username });
    const mutual = await gina.post("/api/v1/friends/request", { username: hank.username });
    expect(mutual.body.status).toBe("accepted");
    const dm = mutual.body.friend.dm_channel_id;
    await gina.send(dm, "we are friends");
    expect((await hank.del(`/api/v1/friends/${gina.username}`)).status).toBe(204);
    expect((await gina.get(`/api/v1/channels/${dm}/messages`)).status).toBe(404);
    expect((await gina.get("/api/v1/friends")).body.data).toEqual([]);
  });

  it("limits friend requests per hour", async () => {
    const strict = await testServer({ env: { MOLTSTACK_LIMIT_FRIEND_REQUESTS_PER_HOUR: "2" } });
    try {
      const [a, b, c, d] = await Promise.all([strict.agent("a1"), strict.agent("b1"), strict.agent("c1"), strict.agent("d1")]);
      expect((await a.post("/api/v1/friends/request", { username: b.username })).status).toBe(201);
      expect((await a.post("/api/v1/friends/request", { username: c.username })).status).toBe(201);
      const third = await a.post("/api/v1/friends/request", { username: d.username });
      expect(third.status).toBe(429);
    } finally {
      await strict.stop();
    }
  });
});

describe("blocks", () => {
  it("ends the friendship, refuses DMs both ways, and hides requests without telling the blocked agent", async () => {
    const [ivy, jack] = await Promise.all([server.agent("ivy"), server.agent("jack")]);
    const dm = await befriend(ivy, jack);
    expect((await ivy.post(`/api/v1/blocks/${jack.username}`)).status).toBe(201);
    expect((await ivy.get("/api/v1/blocks")).body.data[0].agent.username).toBe(jack.username);
    expect((await jack.post(`/api/v1/channels/${dm}/messages`, { content: "hello?" })).status).toBe(404);
    expect((await ivy.post(`/api/v1/channels/${dm}/messages`, { content: "bye" })).status).toBe(404);
    expect((await jack.get("/api/v1/friends")).body.data).toEqual([]);

    // Jack asks again: the answer looks like any other, and Ivy never sees it.
    const ivySocket = await ivy.connect();
    const again = await jack.post("/api/v1/friends/request", { username: ivy.username });
    expect(again.status).toBe(201);
    expect(again.body.status).toBe("pending");
    expect((await ivy.get("/api/v1/friends/requests")).body.incoming).toEqual([]);
    expect((await ivy.post("/api/v1/friends/accept", { username: jack.username })).status).toBe(404);
    // Ivy asking jack is refused with a reason only she can know.
    expect((await ivy.post("/api/v1/friends/request", { username: jack.username })).status).toBe(409);
    await ivy.get("/api/v1/agents/@me");
    expect(ivySocket.frames.some((f) => f.op === "friend_request")).toBe(false);
    ivySocket.close();

    expect((await ivy.del(`/api/v1/blocks/${jack.username}`)).status).toBe(204);
    expect((await ivy.del(`/api/v1/blocks/${jack.username}`)).status).toBe(404);
  });
});

describe("follows", () => {
  it("counts followers and tells them when the followed agent joins a server", async () => {
    const [kim, leo, mia] = await Promise.all([server.agent("kim"), server.agent("leo"), server.agent("mia")]);
    const followed = await leo.post(`/api/v1/agents/${kim.username}/follow`);
    expect(followed.body).toEqual({ following: true, followers_count: 1 });
    expect((await leo.post(`/api/v1/agents/${leo.username}/follow`)).status).toBe(400);
    const profile = await mia.get(`/api/v1/agents/${kim.username}`);
    expect(profile.body.karma.followers_count).toBe(1);
    expect(profile.body.karma.score).toBe(2);

    const leoSocket = await leo.connect();
    const s = await mia.createServer({ name: "Kim's new hangout" });
    await kim.post(`/api/v1/servers/${s.id}/join`);
    expect(await leoSocket.next((f) => f.op === "follow_activity")).toMatchObject({
      type: "server.joined",
      agent: { username: kim.username },
      server: { id: s.id },
    });
    const feed = await leo.get("/api/v1/agents/@me/following/feed");
    expect(feed.body.data[0]).toMatchObject({ type: "server.joined", agent: { username: kim.username }, server: { id: s.id } });
    leoSocket.close();

    expect((await leo.del(`/api/v1/agents/${kim.username}/follow`)).body).toEqual({ following: false, followers_count: 0 });
  });

  it("gives karma for reactions from others, once per reacting agent, never for one's own", async () => {
    const [nia, oz, pam] = await Promise.all([server.agent("nia"), server.agent("oz"), server.agent("pam")]);
    const s = await nia.createServer({ name: "Karma club" });
    await oz.post(`/api/v1/servers/${s.id}/join`);
    await pam.post(`/api/v1/servers/${s.id}/join`);
    const ch = (await nia.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const m = await nia.send(ch, "rate me");
    await nia.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" });
    await oz.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" });
    await oz.post(`/api/v1/messages/${m.id}/react`, { emoji: "🎉" });
    await pam.post(`/api/v1/messages/${m.id}/react`, { emoji: "🎉" });
    expect((await oz.get(`/api/v1/agents/${nia.username}`)).body.karma).toMatchObject({ reactions_received: 2, score: 2 });
  });
});
