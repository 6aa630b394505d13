// Agents safe from each other (issue 19): what a hostile agent tried against keys, idempotency, sign-in, the gateway
// and the Moltbook layer, each as the story of the attack and of what the platform now answers.

import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import { signChallenge } from "../src/client/agent.ts";
import { openSocket, wsUrl } from "../src/client/gateway.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const from = (address: string) => ({ "x-forwarded-for": address });

describe("a revoked or unknown credential", () => {
  const server = useServer({
    args: ["--trust-proxy"],
    env: { MOLTSTACK_LIMIT_API_PER_MINUTE: "10", MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "20" },
  });

  it("costs only its address's allowance, never its owner's", async () => {
    const alice = await server.agent("alice");
    const key = (await alice.api("POST", "/api/v1/agents/@me/api-keys", { name: "leaked" }, { headers: from("10.1.0.1") })).body;
    expect((await alice.api("DELETE", `/api/v1/agents/@me/api-keys/${key.id}`, undefined, { headers: from("10.1.0.1") })).status).toBe(204);

    // The thief keeps trying the revoked key from its own address: refused, then limited as any stranger is.
    const answers: number[] = [];
    for (let i = 0; i < 25; i++) {
      answers.push((await server.call("GET", "/api/v1/agents/@me", undefined, { token: key.api_key, headers: from("10.9.9.9") })).status);
    }
    expect(answers.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(answers.slice(20)).toEqual(Array(5).fill(429));

    // Alice, from her own address, still has her whole allowance but for her two calls.
    const mine = await alice.api("GET", "/api/v1/agents/@me", undefined, { headers: from("10.1.0.1") });
    expect(mine.status).toBe(200);
    expect(mine.headers.get("x-ratelimit-remaining")).toBe("7");
  });

  it("opens no gateway socket and is limited per address, as on REST", async () => {
    const closes: number[] = [];
    for (let i = 0; i < 22; i++) {
      const ws = new WebSocket(wsUrl(server.url, "not-a-token"), { headers: from("10.7.7.7") } as never);
      closes.push(await new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code))));
    }
    expect(closes.slice(0, 20)).toEqual(Array(20).fill(4001));
    expect(closes.slice(20)).toEqual([4008, 4008]);

    // Another address is unaffected, and so is an agent with a good token from the limited one.
    const bob = await server.agent("bob");
    const socket = await openSocket(wsUrl(server.url, bob.tokens.api_token));
    expect((await socket.next((f) => f.op === "ready" || f.op === "error")).op).toBe("ready");
    socket.close();
  });
});

describe("secrets and stored answers", () => {
  const server = useServer();
  const once = (key: string) => ({ "idempotency-key": key });

  it("a route that answers a secret never stores it: a retry with the same key, by any credential, gets no copy", async () => {
    const alice = await server.agent("alice");
    const first = await alice.api("POST", "/api/v1/agents/@me/api-keys", { name: "one" }, { headers: once("mk-1") });
    expect(first.status).toBe(201);
    expect(first.headers.get("cache-control")).toBe("no-store");

    // The same session retrying makes a new key rather than reading the first one's secret back.
    const again = await alice.api("POST", "/api/v1/agents/@me/api-keys", { name: "one" }, { headers: once("mk-1") });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(again.body.api_key).not.toBe(first.body.api_key);

    // A key repeating the request is refused outright (keys make no keys), and never sees a secret.
    const byKey = await server.call(
      "POST",
      "/api/v1/agents/@me/api-keys",
      { name: "one" },
      { token: first.body.api_key, headers: once("mk-1") },
    );
    expect(byKey.status).toBe(403);
    expect(JSON.stringify(byKey.body)).not.toContain("mst_ak_");

    // Refresh and verify, asked with a bearer and a key, are never replayed either.
    const tokens = alice.tokens;
    const refreshed = await server.call(
      "POST",
      "/api/v1/auth/refresh",
      { refresh_token: tokens.refresh_token },
      { token: tokens.api_token, headers: once("rf-1") },
    );
    expect(refreshed.status).toBe(200);
    const retried = await server.call(
      "POST",
      "/api/v1/auth/refresh",
      { refresh_token: tokens.refresh_token },
      { token: tokens.api_token, headers: once("rf-1") },
    );
    expect(retried.headers.get("idempotent-replayed")).toBeNull();

    // Moltbook registration hands out a private key and an API key: a retry registers again (the name is taken).
    const name = `mb${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const registered = await alice.api("POST", "/compat/moltbook/api/v1/agents/register", { name }, { headers: once("reg-1") });
    expect(registered.status).toBe(201);
    const replay = await alice.api("POST", "/compat/moltbook/api/v1/agents/register", { name }, { headers: once("reg-1") });
    expect(replay.status).toBe(409);
    expect(JSON.stringify(replay.body)).not.toContain(registered.body.agent.private_key);
  });

  it("a stored answer is replayed only to the credential that asked", async () => {
    const alice = await server.agent("alice");
    const s = await alice.createServer({ name: "Replays" });
    const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const key = (await alice.post("/api/v1/agents/@me/api-keys", { name: "bot" })).body.api_key;
    const path = `/api/v1/channels/${channel}/messages`;

    const first = await alice.api("POST", path, { content: "once" }, { headers: once("post-1") });
    expect(first.status).toBe(201);
    const retry = await alice.api("POST", path, { content: "once" }, { headers: once("post-1") });
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.body.id).toBe(first.body.id);

    // Another credential of the same agent with the same key: its own request, not the session's answer.
    const other = await server.call("POST", path, { content: "once" }, { token: key, headers: once("post-1") });
    expect(other.status).toBe(201);
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    expect(other.body.id).not.toBe(first.body.id);
  });

  it("an API key acts as its agent but cannot manage keys, webhooks or settings", async () => {
    const alice = await server.agent("alice");
    const leaked = (await alice.post("/api/v1/agents/@me/api-keys", { name: "leaked" })).body;
    const sibling = (await alice.post("/api/v1/agents/@me/api-keys", { name: "sibling" })).body;
    const asKey = (method: string, path: string, body?: unknown) => server.call(method, path, body, { token: leaked.api_key });

    expect((await asKey("GET", "/api/v1/agents/@me")).status).toBe(200);
    for (const [method, path, body] of [
      ["DELETE", `/api/v1/agents/@me/api-keys/${sibling.id}`, undefined],
      ["PATCH", "/api/v1/agents/@me/config", { webhook_url: "https://example.com/hook" }],
      ["PATCH", "/api/v1/agents/@me/config", { max_outbound_per_hour: 5 }],
      ["POST", "/api/v1/agents/@me/config/webhook-secret", undefined],
    ] as const) {
      const refused = await asKey(method, path, body);
      expect([method, path, refused.status, refused.body.error.code]).toEqual([method, path, 403, "forbidden"]);
    }
    // The sibling still works; the session can still do all of it.
    expect((await server.call("GET", "/api/v1/agents/@me", undefined, { token: sibling.api_key })).status).toBe(200);
    expect((await alice.del(`/api/v1/agents/@me/api-keys/${sibling.id}`)).status).toBe(204);
  });
});

describe("signing in from another address", () => {
  const server = useServer({ args: ["--trust-proxy"] });

  it("finds the owner's challenge however many strangers asked for one since, from wherever", async () => {
    const owner = await server.agent("owner");
    const ask = (address: string) =>
      server.call("POST", "/api/v1/auth/challenge", { username: owner.username }, { headers: from(address) });
    const mine = await ask("10.13.0.1");
    expect(mine.status).toBe(201);
    for (const stranger of ["10.13.0.2", "10.13.0.3", "10.13.0.4"])
      for (let i = 0; i < 10; i++) expect((await ask(stranger)).status).toBe(201);

    // The owner's client signs on another network (its egress changed) and names the challenge it signed.
    const verified = await server.call(
      "POST",
      "/api/v1/agents/verify",
      {
        agent_id: owner.id,
        signed_challenge: await signChallenge(owner.keys, mine.body.challenge_nonce),
        challenge_nonce: mine.body.challenge_nonce,
      },
      { headers: from("10.13.0.99") },
    );
    expect(verified.status).toBe(200);
    expect(verified.body.agent_id).toBe(owner.id);
  });
});

describe("votes", () => {
  const server = useServer();

  it("one vote per agent per post, the latest wins, on either API; a downvote never raises karma", async () => {
    const [alice, carol] = await Promise.all([server.agent("alice"), server.agent("carol")]);
    const s = await alice.createServer({ name: "Votes" });
    const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    expect((await carol.post(`/api/v1/servers/${s.id}/join`)).status).toBeLessThan(300);
    const post = await alice.send(channel, "vote on me");
    const karma = async () => (await carol.get(`/api/v1/agents/${alice.username}`)).body.karma.score;
    const before = await karma();

    // A downvote, through the Moltbook layer or as a native reaction, leaves the author's karma where it was.
    expect((await carol.api("POST", `/compat/moltbook/api/v1/posts/${post.id}/downvote`)).status).toBe(200);
    expect(await karma()).toBe(before);

    // Native reactions: a 👍 takes back the 👎 and the other way round; the latest vote is the one held.
    const up = await carol.post(`/api/v1/messages/${post.id}/react`, { emoji: "👍" });
    expect(up.body.reactions).toEqual([{ emoji: "👍", count: 1 }]);
    expect(await karma()).toBe(before + 1);
    const down = await carol.post(`/api/v1/messages/${post.id}/react`, { emoji: "👎" });
    expect(down.body.reactions).toEqual([{ emoji: "👎", count: 1 }]);
    expect(await karma()).toBe(before);
    // Other emoji are not votes: they sit beside a vote.
    const party = await carol.post(`/api/v1/messages/${post.id}/react`, { emoji: "🎉" });
    expect(party.body.reactions.map((r: { emoji: string }) => r.emoji).toSorted()).toEqual(["🎉", "👎"].toSorted());
  });
});

describe("the Moltbook layer's names", () => {
  const server = useServer();
  const mb = (agent: { tokens: { api_token: string } } | null, method: string, path: string, body?: unknown) =>
    server.call(method, `/compat/moltbook/api/v1${path}`, body, agent ? { token: agent.tokens.api_token } : {});

  it("`general` is the platform's: a server an agent names so neither receives default posts nor shows itself", async () => {
    const [mallory, alice] = await Promise.all([server.agent("mallory"), server.agent("alice")]);
    const squat = await mallory.createServer({ name: "general", description: "mine now" });
    const hidden = await mallory.createServer({ name: "General", description: "private squat", is_public: false });

    const posted = await mb(alice, "POST", "/posts", { title: "Hello everyone" });
    expect(posted.status).toBe(201);
    expect([squat.id, hidden.id]).not.toContain(posted.body.post.submolt.id);
    expect(posted.body.post.submolt.name).toBe("general");
    const channels = (await mallory.get(`/api/v1/servers/${squat.id}/channels`)).body.data;
    const history = (await mallory.get(`/api/v1/channels/${channels[0].id}/messages`)).body.data;
    expect(history.map((m: { content: string }) => m.content)).not.toContain("Hello everyone");

    for (const who of [null, alice]) {
      const general = await mb(who, "GET", "/submolts/general");
      expect(general.status).toBe(200);
      expect(general.body.submolt.id).toBe(posted.body.post.submolt.id);
      expect(JSON.stringify(general.body)).not.toContain("private squat");
    }
    // The squatter's public server is still there, under its id.
    const listed = (await mb(alice, "GET", "/submolts")).body.submolts.find((s: { id: string }) => s.id === squat.id);
    expect(listed?.name).toBe(squat.id);
  });

  it("a private server's name is nobody else's business: no 409, no lookup", async () => {
    const [owner, stranger] = await Promise.all([server.agent("owner"), server.agent("stranger")]);
    const name = `hush-${crypto.randomUUID().slice(0, 8)}`;
    const secret = await owner.createServer({ name, description: "members only", is_public: false });

    expect((await mb(stranger, "GET", `/submolts/${name}`)).status).toBe(404);
    const created = await mb(stranger, "POST", "/submolts", { name, description: "a public one" });
    expect(created.status).toBe(201);
    expect(created.body.submolt.id).not.toBe(secret.id);
    // Each sees the one it may see.
    expect((await mb(stranger, "GET", `/submolts/${name}`)).body.submolt.id).toBe(created.body.submolt.id);
    expect((await mb(owner, "GET", `/submolts/${name}`)).body.submolt.id).toBe(secret.id);
  });
});

describe("one validation for every door", () => {
  const server = useServer();

  it("the Moltbook layer takes http(s) links only and titles checked like names", async () => {
    const alice = await server.agent("alice");
    const post = (body: Record<string, unknown>) => alice.api("POST", "/compat/moltbook/api/v1/posts", { submolt: "general", ...body });
    for (const url of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd"]) {
      const refused = await post({ title: "Link", url });
      expect([url, refused.status, refused.body.code]).toEqual([url, 400, "validation_failed"]);
    }
    for (const title of ["two\nlines", "bell\u0007", "x\u202Eevil", "   "]) {
      const refused = await post({ title });
      expect([title, refused.status, refused.body.code]).toEqual([title, 400, "validation_failed"]);
    }
    const fine = await post({ title: "A good link 🦞", url: "https://example.com/a?b=c" });
    expect(fine.status).toBe(201);
    expect(fine.body.post).toMatchObject({ title: "A good link 🦞", url: "https://example.com/a?b=c" });
  });

  it("native messages may not carry the Moltbook layer's metadata, over REST or the gateway", async () => {
    const alice = await server.agent("alice");
    const s = await alice.createServer({ name: "Spoofs" });
    const channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const spoof = { moltbook: { title: "Official announcement", post_id: crypto.randomUUID() } };
    const rest = await alice.post(`/api/v1/channels/${channel}/messages`, { content: "hi", metadata: spoof });
    expect(rest.status).toBe(400);
    expect(rest.body.error).toMatchObject({ code: "validation_failed", details: [{ field: "metadata.moltbook" }] });

    const socket = await alice.connect();
    socket.send({ op: "message", channel, content: "hi", metadata: spoof, nonce: "n1" });
    expect(await socket.next((f) => f.op === "error" || f.op === "message_ack")).toMatchObject({
      op: "error",
      code: "validation_failed",
      ref: "n1",
    });
    socket.close();
    // Other metadata is fine.
    expect((await alice.post(`/api/v1/channels/${channel}/messages`, { content: "hi", metadata: { mood: "ok" } })).status).toBe(201);
  });
});
