// Retries never duplicate: Idempotency-Key on REST posts, nonces on the gateway's message op.

import { setDefaultTimeout } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { inTransaction } from "../src/db/rls.ts";
import { idempotencyKeys } from "../src/db/schema.ts";
import { system } from "../src/domain/actor.ts";
import { forgetExpiredKeys } from "../src/domain/idempotency.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let serverId: string;
let general: string;

beforeAll(async () => {
  alice = await server.agent("alice");
  const s = await alice.createServer({ name: "Retry Lab" });
  serverId = s.id;
  general = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data.find((c: { name: string }) => c.name === "general").id;
});

const withKey = (agent: AgentClient, key: string, path: string, body: unknown) =>
  agent.api("POST", path, body, { headers: { "idempotency-key": key } });

async function contents(channel = general): Promise<string[]> {
  const res = await alice.get(`/api/v1/channels/${channel}/messages?limit=100`);
  return res.body.data.map((m: { content: string }) => m.content);
}

/** How the store names a REST key: per credential (the session a token belongs to), then the key. */
const stored = (key: string) => `rest:${JSON.parse(Buffer.from(alice.tokens.api_token.split(".")[1], "base64url").toString()).sid}:${key}`;

describe("Idempotency-Key", () => {
  it("answers a repeated post with the first answer and stores it once", async () => {
    const key = crypto.randomUUID();
    const body = { content: "posted exactly once, I hope" };
    const first = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("x-ratelimit-limit")).not.toBeNull();
    expect((await contents()).filter((c) => c === body.content)).toHaveLength(1);
    // Without a key, the same body is a new post: keys are opt-in.
    expect((await alice.send(general, body.content)).id).not.toBe(first.body.id);
  });

  it("creates one thing when requests with one key arrive at the same moment", async () => {
    const key = crypto.randomUUID();
    const body = { content: `all at once ${key}` };
    const answers = await Promise.all([...Array(6)].map(() => withKey(alice, key, `/api/v1/channels/${general}/messages`, body)));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === null)).toHaveLength(1);
    expect((await contents()).filter((c) => c === body.content)).toHaveLength(1);

    // The same for other creations: a server made once.
    const serverKey = crypto.randomUUID();
    const name = `Once ${serverKey.slice(0, 8)}`;
    const made = await Promise.all([...Array(4)].map(() => withKey(alice, serverKey, "/api/v1/servers", { name })));
    expect(made.map((m) => m.status)).toEqual(Array(4).fill(201));
    expect(new Set(made.map((m) => m.body.id)).size).toBe(1);
    const mine = await alice.get(`/api/v1/servers?q=${encodeURIComponent(serverKey.slice(0, 8))}&limit=100`);
    expect(mine.body.data.filter((s: { name: string }) => s.name === name)).toHaveLength(1);
  });

  it("refuses the same key for a different request with 422 idempotency_mismatch", async () => {
    const key = crypto.randomUUID();
    expect((await withKey(alice, key, `/api/v1/channels/${general}/messages`, { content: "the original" })).status).toBe(201);
    const other = await withKey(alice, key, `/api/v1/channels/${general}/messages`, { content: "something else" });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("idempotency_mismatch");
    const elsewhere = await withKey(alice, key, "/api/v1/servers", { name: "Elsewhere" });
    expect(elsewhere.status).toBe(422);
    expect(await contents()).not.toContain("something else");
  });

  it("keeps keys per agent, and forgets a request that was refused", async () => {
    const key = crypto.randomUUID();
    const bob = await server.agent("bob");
    const body = { content: `same key, two agents ${key}` };
    // Not a member yet: refused, and the refusal is not remembered.
    const refused = await withKey(bob, key, `/api/v1/channels/${general}/messages`, body);
    expect(refused.status).toBe(403);
    expect((await bob.post(`/api/v1/servers/${serverId}/join`)).status).toBe(200);
    const mine = await withKey(bob, key, `/api/v1/channels/${general}/messages`, body);
    expect(mine.status).toBe(201);
    const hers = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    expect(hers.status).toBe(201);
    expect(hers.body.id).not.toBe(mine.body.id);
    expect((await contents()).filter((c) => c === body.content)).toHaveLength(2);
  });

  it("replays answers of every kind of creating post, 204s included", async () => {
    const [carl, dora] = await Promise.all([server.agent("carl"), server.agent("dora")]);
    const key = crypto.randomUUID();
    const first = await withKey(carl, key, "/api/v1/friends/request", { username: dora.username });
    const second = await withKey(carl, key, "/api/v1/friends/request", { username: dora.username });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body).toEqual(first.body);
    // Without the key the repeat is what it is: a conflict.
    expect((await carl.post("/api/v1/friends/request", { username: dora.username })).status).toBe(409);
    const rejectKey = crypto.randomUUID();
    expect((await withKey(dora, rejectKey, "/api/v1/friends/reject", { username: carl.username })).status).toBe(204);
    const replay = await withKey(dora, rejectKey, "/api/v1/friends/reject", { username: carl.username });
    expect(replay.status).toBe(204);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
  });

  it("validates the key: 1-255 printable characters", async () => {
    for (const key of ["", "x".repeat(256), "tab\there"]) {
      const res = await withKey(alice, key, `/api/v1/channels/${general}/messages`, { content: "never posted" });
      expect(res.status, JSON.stringify(key)).toBe(400);
      expect(res.body.error).toMatchObject({ code: "validation_failed", details: [{ field: "Idempotency-Key" }] });
    }
    expect((await withKey(alice, "~".repeat(255), `/api/v1/channels/${general}/messages`, { content: "long key" })).status).toBe(201);
    // The body limit holds for keyed requests too.
    expect(
      (await withKey(alice, crypto.randomUUID(), `/api/v1/channels/${general}/messages`, { content: "x".repeat(70_000) })).status,
    ).toBe(413);
    expect(await contents()).not.toContain("never posted");
  });

  it("forgets keys after 24 hours", async () => {
    const key = crypto.randomUUID();
    const body = { content: `a day apart ${key}` };
    const first = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    const kept = stored(key);
    // A day passes (for this key).
    await inTransaction(server.deps.database, system, (tx) =>
      tx
        .update(idempotencyKeys)
        .set({ createdAt: sql`now() - interval '25 hours'` })
        .where(and(eq(idempotencyKeys.agentId, alice.id), eq(idempotencyKeys.key, kept))),
    );
    const later = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);
    expect(later.headers.get("idempotent-replayed")).toBeNull();

    const other = crypto.randomUUID();
    await withKey(alice, other, `/api/v1/channels/${general}/messages`, { content: `expiring ${other}` });
    await inTransaction(server.deps.database, system, (tx) =>
      tx
        .update(idempotencyKeys)
        .set({ createdAt: sql`now() - interval '25 hours'` })
        .where(eq(idempotencyKeys.key, stored(other))),
    );
    expect(await forgetExpiredKeys(server.deps)).toBeGreaterThanOrEqual(1);
    const left = await inTransaction(server.deps.database, system, (tx) =>
      tx.select({ key: idempotencyKeys.key }).from(idempotencyKeys).where(eq(idempotencyKeys.agentId, alice.id)),
    );
    expect(left.map((r) => r.key)).toContain(kept); // taken over by the later request, fresh again
    expect(left.map((r) => r.key)).not.toContain(stored(other));
  });

  it("never carries out again a request whose answer was lost after its commit", async () => {
    const key = crypto.randomUUID();
    const body = { content: `committed, answer lost ${key}` };
    expect((await withKey(alice, key, `/api/v1/channels/${general}/messages`, body)).status).toBe(201);
    // What the database holds when it went away between the post's commit and the storing of its answer.
    await inTransaction(server.deps.database, system, (tx) =>
      tx
        .update(idempotencyKeys)
        .set({ responseStatus: null, responseBody: null, createdAt: sql`now() - interval '1 minute'` })
        .where(and(eq(idempotencyKeys.agentId, alice.id), eq(idempotencyKeys.key, stored(key)))),
    );
    const retry = await withKey(alice, key, `/api/v1/channels/${general}/messages`, body);
    expect(retry.status).toBe(409);
    expect(retry.body.error.code).toBe("conflict");
    expect((await contents()).filter((c) => c === body.content)).toHaveLength(1);
  });

  it("keeps an agent's keys to itself (RLS)", async () => {
    const key = crypto.randomUUID();
    await withKey(alice, key, `/api/v1/channels/${general}/messages`, { content: `private key ${key}` });
    const eve = await server.agent("eve");
    const seen = await inTransaction(server.deps.database, { role: "agent", agentId: eve.id }, (tx) =>
      tx.select().from(idempotencyKeys).where(eq(idempotencyKeys.agentId, alice.id)),
    );
    expect(seen).toEqual([]);
  });
});

describe("gateway message nonces", () => {
  it("posts a repeated nonce once and answers it with the first message_ack, across reconnects", async () => {
    const nonce = `n-${crypto.randomUUID()}`;
    const frame = { op: "message" as const, channel: general, content: `nonce ${nonce}`, nonce };
    const socket = await alice.connect();
    socket.send(frame);
    const ack = await socket.next((f) => f.op === "message_ack" && f.nonce === nonce);
    socket.send(frame);
    const second = await socket.next((f) => f.op === "message_ack" && f.nonce === nonce, 5000, socket.frames.indexOf(ack) + 1);
    expect(second).toEqual(ack);
    socket.close();
    // A new connection resending the same frame (it never saw the ack) gets the same ack.
    const again = await alice.connect();
    again.send(frame);
    expect(await again.next((f) => f.op === "message_ack" && f.nonce === nonce)).toEqual(ack);
    // The same nonce for other content is refused, not dropped silently.
    again.send({ ...frame, content: "different content" });
    expect(await again.next((f) => f.op === "error")).toMatchObject({ code: "idempotency_mismatch", ref: nonce });
    // Numbers and strings are different nonces.
    again.send({ ...frame, nonce: 7, content: "number seven" });
    again.send({ ...frame, nonce: "7", content: "string seven" });
    await again.next((f) => f.op === "message_ack" && f.nonce === "7");
    again.close();
    const all = await contents();
    expect(all.filter((c) => c === frame.content)).toHaveLength(1);
    expect(all).toContain("number seven");
    expect(all).toContain("string seven");
    expect(all).not.toContain("different content");
  });

  it("creates one message for the same nonce sent on two sockets at once", async () => {
    const nonce = crypto.randomUUID();
    const frame = { op: "message" as const, channel: general, content: `twin sockets ${nonce}`, nonce };
    const [a, b] = await Promise.all([alice.connect(), alice.connect()]);
    a.send(frame);
    b.send(frame);
    const [ackA, ackB] = await Promise.all([a.next((f) => f.op === "message_ack"), b.next((f) => f.op === "message_ack")]);
    expect(ackA.id).toBe(ackB.id);
    expect((await contents()).filter((c) => c === frame.content)).toHaveLength(1);
    a.close();
    b.close();
  });
});
