import { setDefaultTimeout } from "bun:test";
import { sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { agentClient, call, newKeys, publicKeyBase64, registerAgent, signChallenge } from "../src/client/agent.ts";
import { uniqueName, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();

async function startRegistration(username = uniqueName("agent")) {
  const keys = await newKeys();
  const res = await server.call("POST", "/api/v1/agents/register", { username, publicKey: publicKeyBase64(keys), capabilities: ["chat"] });
  return { keys, username, res };
}

describe("registration and verification", () => {
  it("registers with an Ed25519 key, verifies by signature, and reads its own profile", async () => {
    const { keys, username, res } = await startRegistration();
    expect(res.status).toBe(201);
    expect(res.body.agent_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.body.challenge_nonce).toStartWith(`moltstack-verify:v1:${res.body.agent_id}:`);
    expect(Date.parse(res.body.expires_at)).toBeGreaterThan(Date.now());

    const verified = await server.call("POST", "/api/v1/agents/verify", {
      agent_id: res.body.agent_id,
      signed_challenge: await signChallenge(keys, res.body.challenge_nonce),
    });
    expect(verified.status).toBe(200);
    expect(verified.body.agent_id).toBe(res.body.agent_id);
    expect(verified.body.expires_in).toBe(900);
    expect(verified.body.refresh_token).toStartWith("mst_rt_");
    const me = agentClient(server.url, username, keys, verified.body);
    const profile = await me.get("/api/v1/agents/@me");
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ id: res.body.agent_id, username, status: "verified", capabilities: ["chat"] });

    const other = await server.agent("other");
    const seen = await other.get(`/api/v1/agents/${username}`);
    expect(seen.status).toBe(200);
    expect(seen.body.username).toBe(username);
    expect(seen.body.status).toBeUndefined();
    expect(JSON.stringify(seen.body)).not.toContain("public_key");
  });

  it("refuses a signature made with another key, and the challenge stays usable by the right key", async () => {
    const { keys, res } = await startRegistration();
    const intruder = await newKeys();
    const wrong = await server.call("POST", "/api/v1/agents/verify", {
      agent_id: res.body.agent_id,
      signed_challenge: await signChallenge(intruder, res.body.challenge_nonce),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe("invalid_signature");
    const garbage = await server.call("POST", "/api/v1/agents/verify", { agent_id: res.body.agent_id, signed_challenge: "not base64!" });
    expect(garbage.status).toBe(401);
    const right = await server.call("POST", "/api/v1/agents/verify", {
      agent_id: res.body.agent_id,
      signed_challenge: await signChallenge(keys, res.body.challenge_nonce),
    });
    expect(right.status).toBe(200);
  });

  it("refuses a replayed challenge signature", async () => {
    const { keys, res } = await startRegistration();
    const body = { agent_id: res.body.agent_id, signed_challenge: await signChallenge(keys, res.body.challenge_nonce) };
    expect((await server.call("POST", "/api/v1/agents/verify", body)).status).toBe(200);
    const replay = await server.call("POST", "/api/v1/agents/verify", body);
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe("invalid_signature");
  });

  it("keeps an agent's challenge valid when someone else asks for another in its name", async () => {
    const victim = await server.agent("victim");
    const mine = await server.call("POST", "/api/v1/auth/challenge", { username: victim.username });
    expect(mine.status).toBe(201);
    // Anyone can ask for a challenge by username.
    const theirs = await server.call("POST", "/api/v1/auth/challenge", { username: victim.username });
    expect(theirs.status).toBe(201);
    const signed = { agent_id: victim.id, signed_challenge: await signChallenge(victim.keys, mine.body.challenge_nonce) };
    const verified = await server.call("POST", "/api/v1/agents/verify", signed);
    expect(verified.status).toBe(200);
    expect(verified.body.agent_id).toBe(victim.id);
    expect((await server.call("POST", "/api/v1/agents/verify", signed)).status).toBe(401); // still single use
  });

  it("limits new challenges per username, so nobody can pile them up", async () => {
    const target = await server.agent("target");
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await server.call("POST", "/api/v1/auth/challenge", { username: target.username })).status);
    expect(statuses).toEqual(Array(10).fill(201));
    const over = await server.call("POST", "/api/v1/auth/challenge", { username: target.username });
    expect(over.status).toBe(429);
    expect(over.headers.get("retry-after")).toBeTruthy();
    // Someone else's name is unaffected.
    expect((await server.call("POST", "/api/v1/auth/challenge", { username: (await server.agent("bystander")).username })).status).toBe(
      201,
    );
  });

  it("refuses an expired challenge", async () => {
    const { keys, res } = await startRegistration();
    // Let ten minutes pass for this challenge.
    await server.deps.database.db.execute(
      sql`update agent_challenges set expires_at = now() - interval '1 second' where agent_id = ${res.body.agent_id}`,
    );
    const late = await server.call("POST", "/api/v1/agents/verify", {
      agent_id: res.body.agent_id,
      signed_challenge: await signChallenge(keys, res.body.challenge_nonce),
    });
    expect(late.status).toBe(401);
    expect(late.body.error.code).toBe("challenge_expired");
  });

  it("keeps a pending agent invisible and powerless", async () => {
    const { username, res } = await startRegistration();
    expect((await server.call("GET", `/api/v1/agents/${username}`)).status).toBe(404);
    // It holds no token: every agent-only route answers 401.
    const me = await server.call("GET", "/api/v1/agents/@me");
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe("unauthorized");
    // A token forged for it with a wrong key is refused too.
    const forged = await new SignJWT({ typ: "agent" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(res.body.agent_id)
      .setJti(crypto.randomUUID())
      .setIssuer("moltstack")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode("a guess at the server's secret, 32+ chars"));
    expect((await server.call("GET", "/api/v1/agents/@me", undefined, { token: forged })).status).toBe(401);
  });

  it("refuses a taken username, case-insensitively", async () => {
    const name = uniqueName("dup");
    await server.agent("x").then(() => registerAgent(server.url, name));
    const again = await startRegistration(name.toUpperCase());
    expect(again.res.status).toBe(409);
    expect(again.res.body.error.code).toBe("username_taken");
  });

  it("validates every field and names it", async () => {
    const keys = await newKeys();
    const cases: [unknown, string][] = [
      [{ username: "ab", publicKey: publicKeyBase64(keys) }, "username"],
      [{ username: "has space", publicKey: publicKeyBase64(keys) }, "username"],
      [{ username: "admin", publicKey: publicKeyBase64(keys) }, "username"],
      [{ username: uniqueName("k"), publicKey: "AAAA" }, "publicKey"],
      [{ username: uniqueName("k"), publicKey: Buffer.alloc(32, 0xff).toString("base64") }, "publicKey"],
      [{ username: uniqueName("k") }, "publicKey"],
      [{ username: 42, publicKey: publicKeyBase64(keys) }, "username"],
      [{ username: uniqueName("k"), publicKey: publicKeyBase64(keys), capabilities: "chat" }, "capabilities"],
      [{ username: uniqueName("k"), publicKey: publicKeyBase64(keys), surprise: true }, ""],
    ];
    for (const [body, field] of cases) {
      const res = await server.call("POST", "/api/v1/agents/register", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
      if (field) expect(res.body.error.details.map((d: { field?: string }) => d.field)).toContain(field);
    }
  });
});

describe("tokens", () => {
  it("rotates refresh tokens, and reusing a spent one revokes the whole family", async () => {
    const alice = await server.agent("alice");
    const first = alice.tokens;
    const rotated = await alice.refresh();
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(first.refresh_token);
    expect((await alice.get("/api/v1/agents/@me")).status).toBe(200);

    // Someone replays the spent refresh token after its few seconds of grace (for a client's retry): the family is
    // revoked, including the tokens just issued.
    await server.deps.database.db.execute(
      sql`update agent_tokens set used_at = used_at - interval '1 minute' where agent_id = ${alice.id} and used_at is not null`,
    );
    const reuse = await call(server.url, "POST", "/api/v1/auth/refresh", { refresh_token: first.refresh_token });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe("token_revoked");
    const afterRevoke = await alice.get("/api/v1/agents/@me");
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.body.error.code).toBe("token_revoked");
    expect((await alice.refresh()).status).toBe(401);

    // The key still proves who alice is: she signs a new challenge and is back.
    await alice.login();
    expect((await alice.get("/api/v1/agents/@me")).status).toBe(200);
  });

  it("refuses an expired access token with token_expired, and the client refreshes past it", async () => {
    const bob = await server.agent("bob");
    const expired = await new SignJWT({ typ: "agent" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(bob.id)
      .setJti(crypto.randomUUID())
      .setIssuer("moltstack")
      .setIssuedAt(Math.floor(Date.now() / 1000) - 1000)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(server.deps.jwtKey);
    const res = await server.call("GET", "/api/v1/agents/@me", undefined, { token: expired });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("token_expired");
    bob.tokens = { ...bob.tokens, api_token: expired };
    const retried = await bob.get("/api/v1/agents/@me");
    expect(retried.status).toBe(200);
    expect(bob.tokens.api_token).not.toBe(expired);
  });

  it("refuses garbage tokens and unknown refresh tokens", async () => {
    for (const header of ["Bearer nonsense", "Basic abc", "Bearer a.b.c"]) {
      const res = await server.call("GET", "/api/v1/agents/@me", undefined, { headers: { authorization: header } });
      expect(res.status).toBe(401);
    }
    const res = await server.call("POST", "/api/v1/auth/refresh", { refresh_token: "mst_rt_made_up" });
    expect(res.status).toBe(401);
  });

  it("answers 403 to a suspended agent, on the API and on refresh", async () => {
    const carol = await server.agent("carol");
    await server.deps.database.db.execute(sql`update agents set status = 'suspended' where id = ${carol.id}`);
    const res = await carol.get("/api/v1/agents/@me");
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe("agent_suspended");
    expect((await carol.refresh()).status).toBe(403);
  });

  it("updates its profile with validated fields", async () => {
    const dave = await server.agent("dave");
    const ok = await dave.patch("/api/v1/agents/@me", {
      display_name: "Dave",
      bio: "I build things",
      avatar_url: "https://example.com/a.png",
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ display_name: "Dave", bio: "I build things", avatar_url: "https://example.com/a.png" });
    for (const bad of [{ avatar_url: "javascript:alert(1)" }, { bio: "x".repeat(257) }, { status: "verified" }, { display_name: 7 }]) {
      const res = await dave.patch("/api/v1/agents/@me", bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await dave.get("/api/v1/agents/@me")).body.display_name).toBe("Dave");
  });
});

describe("observers", () => {
  it("registers, logs in, and can only read", async () => {
    const email = `${uniqueName("obs")}@example.com`;
    const reg = await server.call("POST", "/api/v1/observers/register", { email, password: "correct horse battery" });
    expect(reg.status).toBe(202);
    // Registering again with the same email answers the same (no account enumeration) and changes nothing.
    const again = await server.call("POST", "/api/v1/observers/register", { email, password: "another password" });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(reg.body);
    expect((await server.call("POST", "/api/v1/observers/login", { email, password: "wrong password" })).status).toBe(401);
    expect((await server.call("POST", "/api/v1/observers/login", { email: "nobody@example.com", password: "whatever1" })).status).toBe(401);
    const login = await server.call("POST", "/api/v1/observers/login", { email: email.toUpperCase(), password: "correct horse battery" });
    expect(login.status).toBe(200);
    expect(login.body.read_only).toBe(true);
    const token = login.body.token;

    const agent = await server.agent("watched");
    expect((await server.call("GET", `/api/v1/agents/${agent.username}`, undefined, { token })).status).toBe(200);
    for (const [method, path] of [
      ["PATCH", "/api/v1/agents/@me"],
      ["POST", "/api/v1/servers"],
      ["DELETE", "/api/v1/servers/x"],
    ]) {
      const res = await server.call(method, path, { display_name: "hacked" }, { token });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe("read_only");
    }
    expect((await server.call("GET", "/api/v1/agents/@me", undefined, { token })).status).toBe(403);
  });

  it("refuses short passwords and bad emails", async () => {
    expect((await server.call("POST", "/api/v1/observers/register", { email: "not-an-email", password: "long enough" })).status).toBe(400);
    expect(
      (await server.call("POST", "/api/v1/observers/register", { email: `${uniqueName("o")}@example.com`, password: "short" })).status,
    ).toBe(400);
  });
});

describe("bad input never yields a 500", () => {
  it("answers malformed JSON, empty and non-object bodies with 400", async () => {
    for (const rawBody of ["{not json", "", "null", "[1,2]", '"text"', "42"]) {
      const res = await server.call("POST", "/api/v1/agents/register", undefined, {
        rawBody,
        headers: { "content-type": "application/json" },
      });
      expect(res.status, rawBody).toBe(400);
      expect(["invalid_json", "validation_failed"]).toContain(res.body.error.code);
    }
  });

  it("answers bodies over 64 KiB with 413", async () => {
    const res = await server.call("POST", "/api/v1/agents/register", { username: "x".repeat(70 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("answers unknown routes with a JSON 404 and bad ids with 400 or 404", async () => {
    const res = await server.call("GET", "/api/v1/nope");
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("not_found");
    const verify = await server.call("POST", "/api/v1/agents/verify", { agent_id: "not-a-uuid", signed_challenge: "AA==" });
    expect(verify.status).toBe(400);
    const unknown = await server.call("POST", "/api/v1/agents/verify", { agent_id: crypto.randomUUID(), signed_challenge: "AA==" });
    expect(unknown.status).toBe(404);
    expect((await server.call("GET", `/api/v1/agents/${"%27%3B--".repeat(3)}`)).status).toBe(404);
  });

  it("has healthz and readyz", async () => {
    expect((await server.call("GET", "/healthz")).body).toEqual({ status: "ok" });
    const ready = await server.call("GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ database: "ok", pubsub: "ok" });
  });
});

describe("observer login attempts", () => {
  it("are limited per account (from one address), so a password cannot be guessed at speed", async () => {
    const email = `${uniqueName("guess")}@example.com`;
    await server.call("POST", "/api/v1/observers/register", { email, password: "the right password" });
    const statuses: number[] = [];
    for (let i = 0; i < 13 && !statuses.includes(429); i++) {
      statuses.push((await server.call("POST", "/api/v1/observers/login", { email, password: `guess ${i}` })).status);
    }
    // Ten wrong guesses are answered; the limit stops the next one (or, right at the turn of a minute, the one after).
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(10);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(11);
    expect((await server.call("POST", "/api/v1/observers/login", { email, password: "the right password" })).status).toBe(429);
  });
});
