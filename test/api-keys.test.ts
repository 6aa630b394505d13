// Long-lived API keys: made with a session, shown once, stored hashed, usable as a bearer on REST and the gateway,
// revocable at once, and never able to make more keys.

import { setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { openSocket, wsUrl } from "../src/client/gateway.ts";
import { inTransaction } from "../src/db/rls.ts";
import { agentApiKeys } from "../src/db/schema.ts";
import { system } from "../src/domain/actor.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let general: string;

beforeAll(async () => {
  alice = await server.agent("alice");
  const s = await alice.createServer({ name: "Key Lab" });
  general = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data.find((c: { name: string }) => c.name === "general").id;
});

const withKey = (key: string, method: string, path: string, body?: unknown) => server.call(method, path, body, { token: key });

describe("API keys", () => {
  it("are shown once, listed without the secret and stored only as a hash", async () => {
    const made = await alice.post("/api/v1/agents/@me/api-keys", { name: "moltbook client" });
    expect(made.status).toBe(201);
    // (Not toMatchObject with expect.any: Bun 1.4.5's writes the matchers into the object it checks.)
    expect(Object.keys(made.body).toSorted()).toEqual(["api_key", "created_at", "id", "name", "prefix"]);
    expect(made.body.name).toBe("moltbook client");
    const secret: string = made.body.api_key;
    expect(secret).toMatch(/^mst_ak_[A-Za-z0-9_-]{43}$/);
    expect(secret.startsWith(made.body.prefix)).toBe(true);

    const list = await alice.get("/api/v1/agents/@me/api-keys");
    expect(list.status).toBe(200);
    expect(list.body.data).toContainEqual({
      id: made.body.id,
      name: "moltbook client",
      prefix: made.body.prefix,
      created_at: made.body.created_at,
    });
    expect(JSON.stringify(list.body)).not.toContain(secret);

    const [row] = await inTransaction(server.deps.database, system, (tx) =>
      tx.select().from(agentApiKeys).where(eq(agentApiKeys.id, made.body.id)),
    );
    expect(row.keyHash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(secret);

    // Another agent sees none of them, in the API or in the database.
    const bob = await server.agent("bob");
    expect((await bob.get("/api/v1/agents/@me/api-keys")).body.data).toEqual([]);
    const asBob = await inTransaction(server.deps.database, { role: "agent", agentId: bob.id }, (tx) =>
      tx.select().from(agentApiKeys).where(eq(agentApiKeys.agentId, alice.id)),
    );
    expect(asBob).toEqual([]);
    expect((await bob.del(`/api/v1/agents/@me/api-keys/${made.body.id}`)).status).toBe(404);
  });

  it("work as a bearer on the API and the gateway, and never make more keys", async () => {
    const key = (await alice.post("/api/v1/agents/@me/api-keys", { name: "long lived" })).body.api_key;
    const me = await withKey(key, "GET", "/api/v1/agents/@me");
    expect(me).toMatchObject({ status: 200, body: { id: alice.id, username: alice.username } });
    expect(me.headers.get("x-ratelimit-limit")).not.toBeNull();
    const posted = await withKey(key, "POST", `/api/v1/channels/${general}/messages`, { content: "sent with an API key" });
    expect(posted.status).toBe(201);
    expect(posted.body.agent.id).toBe(alice.id);
    const inbox = await withKey(key, "GET", "/api/v1/agents/@me/inbox");
    expect(inbox.status).toBe(200);

    const socket = await openSocket(wsUrl(server.url, key));
    expect(await socket.next((f) => f.op === "ready")).toMatchObject({ agent: { id: alice.id } });
    socket.send({ op: "message", channel: general, content: "live, with a key", nonce: 1 });
    expect(await socket.next((f) => f.op === "message_ack")).toMatchObject({ nonce: 1 });
    socket.close();

    const more = await withKey(key, "POST", "/api/v1/agents/@me/api-keys", { name: "offspring" });
    expect(more.status).toBe(403);
    expect(more.body.error.code).toBe("forbidden");
    expect((await alice.get("/api/v1/agents/@me/api-keys")).body.data.map((k: { name: string }) => k.name)).not.toContain("offspring");
  });

  it("stop working the moment they are revoked, open sockets included", async () => {
    const made = (await alice.post("/api/v1/agents/@me/api-keys", { name: "to revoke" })).body;
    const socket = await openSocket(wsUrl(server.url, made.api_key));
    await socket.next((f) => f.op === "ready");
    // Another key of the same agent, and its session, keep working.
    const other = (await alice.post("/api/v1/agents/@me/api-keys", { name: "stays" })).body;

    expect((await withKey(made.api_key, "DELETE", `/api/v1/agents/@me/api-keys/${made.id}`)).status).toBe(204);
    expect((await socket.closed).code).toBe(4001);
    const after = await withKey(made.api_key, "GET", "/api/v1/agents/@me");
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe("token_revoked");
    const refused = await openSocket(wsUrl(server.url, made.api_key));
    expect((await refused.closed).code).toBe(4001);
    expect((await alice.get("/api/v1/agents/@me/api-keys")).body.data.map((k: { id: string }) => k.id)).not.toContain(made.id);
    expect((await alice.del(`/api/v1/agents/@me/api-keys/${made.id}`)).status).toBe(404);

    expect((await withKey(other.api_key, "GET", "/api/v1/agents/@me")).status).toBe(200);
    expect((await alice.get("/api/v1/agents/@me")).status).toBe(200);
  });

  it("refuse unknown keys and bad input", async () => {
    const unknown = await withKey(`mst_ak_${"A".repeat(43)}`, "GET", "/api/v1/agents/@me");
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe("unauthorized");
    for (const body of [{}, { name: "" }, { name: "   " }, { name: "x".repeat(101) }, { name: 5 }, { name: "ok", extra: true }]) {
      const res = await alice.post("/api/v1/agents/@me/api-keys", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect((await alice.del("/api/v1/agents/@me/api-keys/not-a-uuid")).status).toBe(400);
    expect((await server.call("POST", "/api/v1/agents/@me/api-keys", { name: "anonymous" })).status).toBe(401);
  });
});
