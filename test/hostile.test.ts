// What a hostile agent tried (issue 12, section 3): locking others out of signing in, turning a client's retry into a
// revoked session, flooding a message with reactions, probing for observer accounts, following through a block, and
// text that hides or reorders what a reader sees.

import { setDefaultTimeout } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type AgentClient, signChallenge } from "../src/client/agent.ts";
import { wsUrl } from "../src/client/gateway.ts";
import { rows, sqlState } from "../src/db/client.ts";
import { inTransaction } from "../src/db/rls.ts";
import { agentFollows, messageReactions } from "../src/db/schema.ts";
import { uniqueName, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

// Behind a proxy of our own, so each test can speak from the addresses it needs (X-Forwarded-For).
const server = useServer({ env: { MOLTSTACK_TRUST_PROXY: "1" } });

/** A caller at another address (the last X-Forwarded-For hop is the one a trusted proxy appended). */
const from = (address: string) => ({ headers: { "x-forwarded-for": address } });

async function channelOf(owner: AgentClient, ...members: AgentClient[]): Promise<string> {
  const created = await owner.createServer({ name: uniqueName("hostile") });
  for (const m of members) expect((await m.post(`/api/v1/servers/${created.id}/join`)).status).toBeLessThan(300);
  const [general] = (await owner.get(`/api/v1/servers/${created.id}/channels`)).body.data;
  return general.id;
}

describe("text that hides or reorders what a reader sees", () => {
  const deceptiveNames = ["x\u202Eevil\u200b", "ad\u200bmin", "\u2066name\u2069", "a\u00ADb", "line\nbreak", "\u3164", "\u200d"];

  it("refuses display names with bidi controls, zero-width or other invisible characters", async () => {
    const alice = await server.agent("alice");
    for (const display_name of deceptiveNames) {
      const res = await alice.patch("/api/v1/agents/@me", { display_name });
      expect(res.status, JSON.stringify(display_name)).toBe(400);
      expect(res.body.error).toMatchObject({
        code: "validation_failed",
        details: expect.arrayContaining([expect.objectContaining({ field: "display_name" })]),
      });
      const reg = await server.call("POST", "/api/v1/agents/register", { username: uniqueName("r"), publicKey: "AAAA", display_name });
      expect(
        reg.body.error.details.map((d: { field: string }) => d.field),
        JSON.stringify(display_name),
      ).toContain("display_name");
      const obs = await server.call("POST", "/api/v1/observers/register", {
        email: `${uniqueName("o")}@example.com`,
        password: "long enough pw",
        display_name,
      });
      expect(obs.status, JSON.stringify(display_name)).toBe(400);
      const srv = await alice.post("/api/v1/servers", { name: display_name });
      expect(srv.status, JSON.stringify(display_name)).toBe(400);
    }
    // Emoji sequences joined by U+200D, accents and right-to-left scripts are names like any other.
    for (const display_name of ["👩‍💻 Ada", "Zoë", "שלום עולם", "山田"]) {
      const res = await alice.patch("/api/v1/agents/@me", { display_name });
      expect(res.status, display_name).toBe(200);
      expect(res.body.display_name).toBe(display_name);
    }
  });

  it("refuses a message that shows nothing, and keeps right-to-left text with its marks", async () => {
    const alice = await server.agent("alice");
    const channel = await channelOf(alice);
    for (const content of ["\u202e\u2066\u00ad", "\u200b\u200c\u200d\u2060\ufeff", " \u3164\u2800 ", "\u2067\u2069\n"]) {
      const res = await alice.post(`/api/v1/channels/${channel}/messages`, { content });
      expect(res.status, JSON.stringify(content)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
    // Nor by editing, nor through the Moltbook compat API, which posts through the same domain function.
    const shown = await alice.send(channel, "visible");
    expect((await alice.patch(`/api/v1/messages/${shown.id}`, { content: "\u202e\u2066\u00ad" })).status).toBe(400);
    const compat = (path: string, body: unknown) =>
      server.call("POST", `/compat/moltbook/api/v1${path}`, body, { token: alice.tokens.api_token });
    const post = await compat("/posts", { submolt: "general", title: "a post to comment on" });
    expect(post.status).toBe(201);
    const comment = await compat(`/posts/${post.body.post.id}/comments`, { content: "\u202e\u2066\u00ad" });
    expect(comment.status).toBe(400);
    expect((await compat("/posts", { submolt: "general", title: "\u2067\u200b" })).status).toBe(400);
    await alice.del(`/api/v1/messages/${shown.id}`);

    const rtl = await alice.post(`/api/v1/channels/${channel}/messages`, { content: "\u05e9\u05dc\u05d5\u05dd\u200f!" });
    expect(rtl.status).toBe(201);
    expect((await alice.get(`/api/v1/channels/${channel}/messages`)).body.data.map((m: { content: string }) => m.content)).toEqual([
      "\u05e9\u05dc\u05d5\u05dd\u200f!",
    ]);
  });

  it("refuses bodies that are not UTF-8 and lone surrogates with 400, over REST and the gateway", async () => {
    const alice = await server.agent("alice");
    const channel = await channelOf(alice);
    const path = `/api/v1/channels/${channel}/messages`;
    const json = { "content-type": "application/json", authorization: `Bearer ${alice.tokens.api_token}` };
    const bytes = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
    for (const rawBody of [
      bytes('{"content":"hi ', [0xff], '"}'),
      bytes('{"content":"hi ', [0xc3, 0x28], '"}'), // a lead byte without its continuation
      bytes('{"content":"hi ', [0xed, 0xa0, 0x80], '"}'), // a surrogate encoded as UTF-8 (CESU)
      bytes('{"content":"hi \\ud800"}'), // a lone surrogate as a JSON escape
      bytes('{"content":"hi \\udc00 there"}'),
      bytes('{"content":"fine","metadata":{"k\\ud83d":1}}'), // in a key
    ]) {
      const res = await server.call("POST", path, undefined, { rawBody, headers: json });
      expect(res.status, rawBody.toString("hex")).toBe(400);
      expect(res.body.error.code).toMatch(/^(invalid_json|validation_failed)$/);
      expect(typeof res.body.error.message).toBe("string");
    }
    // A well-formed surrogate pair is an ordinary emoji.
    expect((await server.call("POST", path, undefined, { rawBody: bytes('{"content":"hi \\ud83d\\ude00"}'), headers: json })).status).toBe(
      201,
    );
    const stored = (await alice.get(path)).body.data.map((m: { content: string }) => m.content);
    expect(stored).toEqual(["hi \u{1F600}"]);

    const socket = await alice.connect();
    socket.send(JSON.parse('{"op":"message","channel":"' + channel + '","content":"lone \\ud800","nonce":"n1"}'));
    expect(await socket.next((f) => f.op === "error")).toMatchObject({ code: "validation_failed", ref: "n1" });
    socket.close();

    // A binary frame holding JSON whose bytes are not UTF-8: refused, not stored with U+FFFD.
    const raw = new WebSocket(wsUrl(server.url, alice.tokens.api_token));
    const frames: { op: string; code?: string }[] = [];
    const waiters: [string[], () => void][] = [];
    raw.onmessage = (e) => {
      const f = JSON.parse(String(e.data));
      frames.push(f);
      for (const [ops, resolve] of waiters) if (ops.includes(f.op)) resolve();
    };
    const next = (...ops: string[]) => new Promise<void>((resolve) => waiters.push([ops, resolve]));
    await next("ready");
    raw.send(bytes(`{"op":"message","channel":"${channel}","content":"bin `, [0xff], '","nonce":"n2"}'));
    await next("error", "message_ack");
    raw.close();
    expect(frames.filter((f) => f.op === "error").map((f) => f.code)).toEqual(["invalid_json"]);
    expect(frames.some((f) => f.op === "message_ack")).toBe(false);
    expect((await alice.get(path)).body.data).toHaveLength(1);
  });
});

describe("following across a block", () => {
  it("refuses a blocked agent's follow, removes follows both ways on a block, and RLS refuses it too", async () => {
    const [alice, bob, carol] = await Promise.all([server.agent("alice"), server.agent("bob"), server.agent("carol")]);
    expect((await bob.post(`/api/v1/agents/${alice.username}/follow`)).body).toEqual({ following: true, followers_count: 1 });
    expect((await alice.post(`/api/v1/agents/${bob.username}/follow`)).status).toBe(200);
    expect((await alice.post(`/api/v1/blocks/${bob.username}`)).status).toBeLessThan(300);
    // The block ended both follows.
    expect((await carol.get(`/api/v1/agents/${alice.username}`)).body.karma.followers_count).toBe(0);
    expect((await carol.get(`/api/v1/agents/${bob.username}`)).body.karma.followers_count).toBe(0);

    const again = await bob.post(`/api/v1/agents/${alice.username}/follow`);
    expect(again.status).toBe(403);
    expect(again.body.error.code).toBe("forbidden");
    const back = await alice.post(`/api/v1/agents/${bob.username}/follow`);
    expect(back.status).toBe(409);
    expect((await carol.get(`/api/v1/agents/${alice.username}`)).body.karma.followers_count).toBe(0);

    // In the database itself, as bob: the insert is refused by row-level security.
    let code: string | undefined;
    await inTransaction(server.deps.database, { role: "agent", agentId: bob.id }, (tx) =>
      tx.insert(agentFollows).values({ followerId: bob.id, followingId: alice.id }),
    ).catch((e) => (code = sqlState(e)));
    expect(code).toBe("42501");

    // Unblocked, following works again.
    expect((await alice.del(`/api/v1/blocks/${bob.username}`)).status).toBeLessThan(300);
    expect((await bob.post(`/api/v1/agents/${alice.username}/follow`)).body).toEqual({ following: true, followers_count: 1 });
  });
});

describe("reactions per message", () => {
  const emoji = [
    "😀",
    "😂",
    "😍",
    // Not 👍 and 👎: those are votes, and an agent holds one of them at a time.
    "🎸",
    "🌈",
    "🎉",
    "🔥",
    "🚀",
    "👀",
    "🤖",
    "❤️",
    "💯",
    "🙏",
    "👏",
    "🤔",
    "😢",
    "😡",
    "🌟",
    "✅",
    "❌",
    "🍕",
    "🐍",
    "🦀",
    "🎯",
    "🧠",
  ];
  const react = (a: AgentClient, id: string, e: string) => a.post(`/api/v1/messages/${id}/react`, { emoji: e });

  it("caps one agent's reactions on a message at 10 and a message at 20 different emoji", async () => {
    const agents = await Promise.all([0, 1, 2].map((i) => server.agent(`reactor${i}`)));
    const channel = await channelOf(agents[0], ...agents.slice(1));
    const message = await agents[0].send(channel, "react to me");

    for (const e of emoji.slice(0, 10)) expect((await react(agents[0], message.id, e)).status, e).toBe(200);
    const eleventh = await react(agents[0], message.id, emoji[10]);
    expect(eleventh.status).toBe(409);
    expect(eleventh.body.error).toMatchObject({ code: "limit_reached", details: [{ field: "emoji" }] });
    expect((await react(agents[0], message.id, emoji[0])).status).toBe(200); // one it already has: no change

    for (const e of emoji.slice(10, 20)) expect((await react(agents[1], message.id, e)).status, e).toBe(200);
    const twentyFirst = await react(agents[2], message.id, emoji[20]);
    expect(twentyFirst.status).toBe(409);
    expect(twentyFirst.body.error.code).toBe("limit_reached");
    expect(twentyFirst.body.error.message).toContain("20");
    // Adding to an emoji already on the message is still fine.
    const joined = await react(agents[2], message.id, emoji[5]);
    expect(joined.status).toBe(200);
    expect(joined.body.reactions).toHaveLength(20);
    expect(joined.body.reactions.find((r: { emoji: string }) => r.emoji === emoji[5]).count).toBe(2);
  });

  it("holds the cap when new emoji arrive at once, and in the database itself", async () => {
    const agents = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => server.agent(`racer${i}`)));
    const channel = await channelOf(agents[0], ...agents.slice(1));
    const message = await agents[0].send(channel, "race");
    for (const e of emoji.slice(0, 10)) expect((await react(agents[0], message.id, e)).status).toBe(200);
    for (const e of emoji.slice(10, 19)) expect((await react(agents[1], message.id, e)).status).toBe(200);
    // Five agents each add a different new emoji at the same moment: one slot is left.
    const raced = await Promise.all(agents.slice(2).map((a, i) => react(a, message.id, emoji[19 + i])));
    expect(raced.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409]);
    const [{ n }] = await inTransaction(server.deps.database, { role: "system" }, (tx) =>
      tx
        .select({ n: sql<number>`count(distinct ${messageReactions.emoji})::int` })
        .from(messageReactions)
        .where(eq(messageReactions.messageId, message.id)),
    );
    expect(Number(n)).toBe(20);

    // Straight into the table as a member, past the domain: the database refuses the 21st emoji and the 11th reaction.
    const insert = (agentId: string, e: string) =>
      inTransaction(server.deps.database, { role: "agent", agentId }, (tx) =>
        tx.insert(messageReactions).values({ messageId: message.id, agentId, emoji: e }),
      )
        .then(() => "ok")
        .catch((e) => sqlState(e));
    expect(await insert(agents[6].id, emoji[24])).toBe("23514");
    expect(await insert(agents[0].id, emoji[12])).toBe("23514");
    const kept = await inTransaction(server.deps.database, { role: "system" }, (tx) =>
      tx
        .select()
        .from(messageReactions)
        .where(and(eq(messageReactions.messageId, message.id), eq(messageReactions.agentId, agents[0].id))),
    );
    expect(kept).toHaveLength(10);
  });
});

describe("signing in again cannot be blocked by strangers", () => {
  it("counts challenges per username per address: strangers elsewhere neither spend the owner's allowance nor hide its challenge", async () => {
    const owner = await server.agent("owner");
    const ask = (address: string) => server.call("POST", "/api/v1/auth/challenge", { username: owner.username }, from(address));
    const mine = await ask("10.12.0.1");
    expect(mine.status).toBe(201);
    // Three strangers ask ten times each: each is stopped after its own ten, and 30 challenges are newer than the owner's.
    for (const stranger of ["10.12.0.2", "10.12.0.3", "10.12.0.4"]) {
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await ask(stranger)).status);
      expect(statuses).toEqual([...Array(10).fill(201), 429]);
    }
    // The owner still gets challenges, and the one it asked for first still verifies.
    expect((await ask("10.12.0.1")).status).toBe(201);
    const signed = { agent_id: owner.id, signed_challenge: await signChallenge(owner.keys, mine.body.challenge_nonce) };
    const verified = await server.call("POST", "/api/v1/agents/verify", signed, from("10.12.0.1"));
    expect(verified.status).toBe(200);
    expect(verified.body.agent_id).toBe(owner.id);
  });

  it("limits challenges per address across usernames, and an IPv6 caller counts as its /64", async () => {
    const statuses: number[] = [];
    // Any address in one /64 is the same caller.
    for (let i = 0; i < 101; i++) {
      statuses.push(
        (
          await server.call(
            "POST",
            "/api/v1/auth/challenge",
            { username: uniqueName("nobody") },
            from(`2001:db8:77:5::${(i + 1).toString(16)}`),
          )
        ).status,
      );
    }
    expect(statuses.slice(0, 100).every((s) => s === 404)).toBe(true);
    expect(statuses[100]).toBe(429);
    // Another /64 is another caller.
    expect((await server.call("POST", "/api/v1/auth/challenge", { username: uniqueName("nobody") }, from("2001:db8:77:6::1"))).status).toBe(
      404,
    );
  });
});

describe("observer accounts", () => {
  it("answers registration the same whether or not the email has an account", async () => {
    const email = `${uniqueName("obs")}@example.com`;
    const first = await server.call("POST", "/api/v1/observers/register", { email, password: "correct horse battery" }, from("10.13.0.1"));
    const second = await server.call(
      "POST",
      "/api/v1/observers/register",
      { email: email.toUpperCase(), password: "another password" },
      from("10.13.0.2"),
    );
    const fresh = await server.call(
      "POST",
      "/api/v1/observers/register",
      { email: `${uniqueName("new")}@example.com`, password: "another password" },
      from("10.13.0.3"),
    );
    for (const res of [first, second, fresh]) {
      expect(res.status).toBe(202);
      expect(res.body).toEqual(first.body);
      expect(JSON.stringify(res.body)).not.toMatch(/taken|exists|already/i);
    }
    // The account is the first one's: the second password opens nothing.
    expect((await server.call("POST", "/api/v1/observers/login", { email, password: "another password" })).status).toBe(401);
    const login = await server.call("POST", "/api/v1/observers/login", { email, password: "correct horse battery" });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ read_only: true, token: expect.any(String) });
  });

  it("limits login attempts per account and address, so strangers guessing elsewhere cannot lock the owner out", async () => {
    const email = `${uniqueName("locked")}@example.com`;
    expect((await server.call("POST", "/api/v1/observers/register", { email, password: "the right password" })).status).toBeLessThan(300);
    const login = (password: string, address: string) => server.call("POST", "/api/v1/observers/login", { email, password }, from(address));
    const statuses: number[] = [];
    for (let i = 0; i < 13 && !statuses.includes(429); i++) statuses.push((await login(`guess ${i}`, "10.14.0.1")).status);
    // Ten wrong guesses are answered; the limit stops the next one (or, right at the turn of a minute, the one after).
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(10);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(11);
    expect((await login("the right password", "10.14.0.1")).status).toBe(429);
    // The owner, elsewhere, signs in.
    expect((await login("the right password", "10.14.0.2")).status).toBe(200);
    // The guessing address, trying other accounts, is stopped by the per-address limit (30 a minute, some spent above).
    const spray: number[] = [];
    for (let i = 0; i < 40 && !spray.includes(429); i++) {
      spray.push(
        (
          await server.call(
            "POST",
            "/api/v1/observers/login",
            { email: `${uniqueName("x")}@example.com`, password: "whatever1" },
            from("10.14.0.1"),
          )
        ).status,
      );
    }
    // (A slow run that crosses the turn of a minute may get a few more answers: the window slides.)
    expect(spray.at(-1)).toBe(429);
    expect(statuses.length + 1 + spray.length).toBeGreaterThanOrEqual(31);
  });
});

describe("a client retrying a refresh", () => {
  const refresh = (token: string) => server.call("POST", "/api/v1/auth/refresh", { refresh_token: token });
  /** Lets the grace of an agent's spent refresh tokens run out (as if a minute had passed since they were spent). */
  const ageSpentTokens = (agentId: string) =>
    server.deps.database.db.execute(
      sql`update agent_tokens set used_at = used_at - interval '1 minute' where agent_id = ${agentId} and used_at is not null`,
    );

  it("gets the same new pair for the same refresh token sent twice at once, and the session lives on", async () => {
    const alice = await server.agent("alice");
    const spent = alice.tokens.refresh_token;
    const [a, b] = await Promise.all([refresh(spent), refresh(spent)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toEqual(b.body);
    expect(a.body.refresh_token).not.toBe(spent);
    // A third retry a moment later: the same pair again.
    expect((await refresh(spent)).body).toEqual(a.body);

    alice.tokens = a.body;
    expect((await alice.get("/api/v1/agents/@me")).status).toBe(200);
    const next = await alice.refresh();
    expect(next.status).toBe(200);
    expect((await alice.get("/api/v1/agents/@me")).status).toBe(200);
    // The pair is not kept in the clear: the database holds only hashes and a sealed box.
    const stored = JSON.stringify(await rows(server.deps.database.db, sql`select * from agent_tokens where agent_id = ${alice.id}`));
    expect(stored).toContain("successor_sealed");
    for (const secret of [a.body.refresh_token, a.body.api_token, next.body.refresh_token]) expect(stored).not.toContain(secret);
  });

  it("still treats a spent refresh token as stolen once its pair was used or its grace is over", async () => {
    // Used: the pair it was rotated into has itself been refreshed, so whoever replays it is not the client.
    const bob = await server.agent("bob");
    const first = bob.tokens.refresh_token;
    expect((await bob.refresh()).status).toBe(200);
    expect((await bob.refresh()).status).toBe(200);
    const replay = await refresh(first);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe("token_revoked");
    expect((await bob.get("/api/v1/agents/@me")).status).toBe(401);

    // Late: a minute after it was spent.
    const carol = await server.agent("carol");
    const spent = carol.tokens.refresh_token;
    expect((await carol.refresh()).status).toBe(200);
    await ageSpentTokens(carol.id);
    const late = await refresh(spent);
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe("token_revoked");
    expect((await carol.get("/api/v1/agents/@me")).body.error.code).toBe("token_revoked");
    // The sealed pairs of the revoked session are gone.
    const sealed = await rows(
      server.deps.database.db,
      sql`select id from agent_tokens where agent_id = ${carol.id} and successor_sealed is not null`,
    );
    expect(sealed).toEqual([]);
  });
});
