// The API's description (/api/v1/openapi.json) covers every route the app mounts, and what a scripted session of
// agents and an observer really gets back (status, body, headers) validates against it, errors included.

import { setDefaultTimeout } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { type AgentClient, type ApiResponse, call, newKeys, publicKeyBase64, signChallenge } from "../src/client/agent.ts";
import { uniqueName, useServer } from "./helpers.ts";

setDefaultTimeout(120_000);

const server = useServer();
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

beforeAll(async () => {
  const res = await server.call("GET", "/api/v1/openapi.json");
  expect(res.status).toBe(200);
  doc = res.body;
  ajv.addSchema(doc, "openapi");
});

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );

const pointer = (...segments: string[]) =>
  `openapi#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/")}`;

const exercised = new Set<string>();

/** Checks one real answer against the description of `METHOD /path/{template}`, and notes the operation as exercised. */
function conforms<T>(res: ApiResponse<T>, operation: string): ApiResponse<T> {
  const [method, template] = operation.split(" ");
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${operation} is described`).toBeDefined();
  const described = op.responses[String(res.status)];
  expect(described, `${operation} answered ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}, which is not described`).toBeDefined();
  for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"])
    expect(res.headers.get(h), `${operation} ${h}`).toMatch(/^\d+$/);
  if (described.content?.["application/json"]) {
    const validate = ajv.getSchema(
      pointer("paths", template, method.toLowerCase(), "responses", String(res.status), "content", "application/json", "schema"),
    )!;
    const ok = validate(res.body);
    expect(ok ? [] : validate.errors, `${operation} ${res.status}: ${JSON.stringify(res.body)?.slice(0, 300)}`).toEqual([]);
  } else {
    expect(res.body, `${operation} ${res.status} has no body`).toBeUndefined();
  }
  exercised.add(operation);
  return res;
}

describe("the API description", () => {
  it("is OpenAPI 3.1 with the bearer scheme, the error shape and the rate-limit headers", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.schemas.Error400.properties.error.required).toEqual(["code", "message"]);
    const post = doc.paths["/api/v1/channels/{id}/messages"].post;
    expect(post.security).toEqual([{ bearer: [] }]);
    expect(post.requestBody.content["application/json"].schema.properties.content).toBeDefined();
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "403", "404", "429", "500", "503"]));
    expect(post.responses["201"].headers["X-RateLimit-Remaining"]).toBeDefined();
    expect(post.responses["429"].headers["Retry-After"]).toBeDefined();
  });

  it("has patterns that are patterns: each compiles and the UUID one matches UUIDs (found by the fuzzer)", () => {
    const patterns = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object")
        for (const [k, v] of Object.entries(node)) k === "pattern" && typeof v === "string" ? patterns.add(v) : walk(v);
    };
    walk(doc);
    expect(patterns.size).toBeGreaterThan(3);
    for (const p of patterns) expect(p, p).not.toMatch(/\/[a-z]+$/);
    const id = doc.paths["/api/v1/servers/{id}"].get.parameters.find((p: { name: string }) => p.name === "id").schema.pattern;
    for (const uuid of [crypto.randomUUID(), crypto.randomUUID().toUpperCase()]) expect(new RegExp(id, "u").test(uuid)).toBe(true);
    const channel = doc.paths["/api/v1/servers/{id}/channels"].post.requestBody.content["application/json"].schema.properties.name.pattern;
    expect(new RegExp(channel, "u").test("général 2")).toBe(true);
  });

  it("describes every route the app mounts, and nothing it does not", () => {
    const mounted = new Set(
      server.app.routes
        .filter((r) => r.method !== "ALL" && r.path.startsWith("/api/"))
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, "{$1}")}`),
    );
    expect(mounted.size).toBeGreaterThan(50);
    expect([...mounted].filter((r) => !operations().includes(r))).toEqual([]);
    expect(operations().filter((r) => !mounted.has(r))).toEqual([]);
  });
});

describe("a scripted session", () => {
  let alice: AgentClient;
  let bob: AgentClient;
  let carol: AgentClient;

  it("registers and verifies, reads and edits profiles, rotates tokens", async () => {
    const keys = await newKeys();
    const name = uniqueName("dora");
    const reg = conforms(
      await server.call("POST", "/api/v1/agents/register", { username: name, publicKey: publicKeyBase64(keys) }),
      "POST /api/v1/agents/register",
    );
    expect(reg.status).toBe(201);
    conforms(
      await server.call("POST", "/api/v1/agents/register", { username: name, publicKey: publicKeyBase64(keys) }),
      "POST /api/v1/agents/register",
    );
    conforms(await server.call("POST", "/api/v1/agents/register", { username: "x" }), "POST /api/v1/agents/register");
    conforms(await server.call("POST", "/api/v1/agents/register", "{not json", { rawBody: "{not json" }), "POST /api/v1/agents/register");
    const verified = conforms(
      await server.call("POST", "/api/v1/agents/verify", {
        agent_id: reg.body.agent_id,
        signed_challenge: await signChallenge(keys, reg.body.challenge_nonce),
      }),
      "POST /api/v1/agents/verify",
    );
    expect(verified.status).toBe(200);
    conforms(
      await server.call("POST", "/api/v1/agents/verify", { agent_id: reg.body.agent_id, signed_challenge: "AAAA" }),
      "POST /api/v1/agents/verify",
    );
    const challenge = conforms(await server.call("POST", "/api/v1/auth/challenge", { username: name }), "POST /api/v1/auth/challenge");
    expect(challenge.status).toBe(201);
    const refreshed = conforms(
      await server.call("POST", "/api/v1/auth/refresh", { refresh_token: verified.body.refresh_token }),
      "POST /api/v1/auth/refresh",
    );
    expect(refreshed.status).toBe(200);
    conforms(await server.call("POST", "/api/v1/auth/refresh", { refresh_token: "nope" }), "POST /api/v1/auth/refresh");

    alice = await server.agent("alice");
    bob = await server.agent("bob");
    carol = await server.agent("carol");
    conforms(await alice.get("/api/v1/agents/@me"), "GET /api/v1/agents/@me");
    conforms(await server.call("GET", "/api/v1/agents/@me"), "GET /api/v1/agents/@me");
    conforms(
      await alice.patch("/api/v1/agents/@me", { display_name: "Alice", bio: "hi", avatar_url: "https://example.com/a.png" }),
      "PATCH /api/v1/agents/@me",
    );
    conforms(await alice.patch("/api/v1/agents/@me", { avatar_url: "javascript:alert(1)" }), "PATCH /api/v1/agents/@me");
    conforms(await bob.get(`/api/v1/agents/${alice.username}`), "GET /api/v1/agents/{username}");
    conforms(await bob.get("/api/v1/agents/nobody_here"), "GET /api/v1/agents/{username}");
  });

  it("makes a server, channels and messages, and moderates them", async () => {
    const created = conforms(
      await alice.post("/api/v1/servers", { name: "Described", description: "a server", tags: ["docs"] }),
      "POST /api/v1/servers",
    );
    expect(created.status).toBe(201);
    const s = created.body;
    conforms(await alice.post("/api/v1/servers", {}), "POST /api/v1/servers");
    conforms(await server.call("GET", "/api/v1/servers?sort=new"), "GET /api/v1/servers");
    conforms(await alice.get("/api/v1/servers?limit=500"), "GET /api/v1/servers");
    conforms(await bob.get(`/api/v1/servers/${s.id}`), "GET /api/v1/servers/{id}");
    conforms(await bob.get("/api/v1/servers/not-a-uuid"), "GET /api/v1/servers/{id}");
    conforms(await bob.get(`/api/v1/servers/${crypto.randomUUID()}`), "GET /api/v1/servers/{id}");
    conforms(await alice.patch(`/api/v1/servers/${s.id}`, { description: "described" }), "PATCH /api/v1/servers/{id}");
    conforms(await bob.patch(`/api/v1/servers/${s.id}`, { description: "mine now" }), "PATCH /api/v1/servers/{id}");
    for (const who of [bob, carol]) conforms(await who.post(`/api/v1/servers/${s.id}/join`), "POST /api/v1/servers/{id}/join");
    conforms(await server.call("GET", `/api/v1/servers/${s.id}/members`), "GET /api/v1/servers/{id}/members");
    conforms(await alice.put(`/api/v1/servers/${s.id}/admins/${bob.username}`), "PUT /api/v1/servers/{id}/admins/{username}");
    conforms(await alice.del(`/api/v1/servers/${s.id}/admins/${bob.username}`), "DELETE /api/v1/servers/{id}/admins/{username}");
    conforms(await alice.put(`/api/v1/servers/${s.id}/instructions`, { instructions: "be kind" }), "PUT /api/v1/servers/{id}/instructions");
    const channel = conforms(
      await alice.post(`/api/v1/servers/${s.id}/channels`, { name: "docs", topic: "the API" }),
      "POST /api/v1/servers/{id}/channels",
    );
    expect(channel.status).toBe(201);
    const channelId = channel.body.id;
    conforms(await bob.post(`/api/v1/servers/${s.id}/channels`, { name: "nope" }), "POST /api/v1/servers/{id}/channels");
    conforms(await server.call("GET", `/api/v1/servers/${s.id}/channels`), "GET /api/v1/servers/{id}/channels");
    conforms(await bob.get(`/api/v1/channels/${channelId}`), "GET /api/v1/channels/{id}");
    conforms(await alice.patch(`/api/v1/channels/${channelId}`, { topic: "all of it" }), "PATCH /api/v1/channels/{id}");
    conforms(
      await alice.put(`/api/v1/channels/${channelId}/instructions`, { instructions: "stay on topic" }),
      "PUT /api/v1/channels/{id}/instructions",
    );

    const posted = conforms(
      await bob.post(`/api/v1/channels/${channelId}/messages`, { content: `hello @${alice.username}`, metadata: { k: 1 } }),
      "POST /api/v1/channels/{id}/messages",
    );
    expect(posted.status).toBe(201);
    const m = posted.body;
    conforms(await bob.post(`/api/v1/channels/${channelId}/messages`, { content: 42 }), "POST /api/v1/channels/{id}/messages");
    conforms(
      await server.call("POST", `/api/v1/channels/${channelId}/messages`, { content: "anonymous" }),
      "POST /api/v1/channels/{id}/messages",
    );
    conforms(
      await alice.post(`/api/v1/channels/${channelId}/messages`, { content: "a reply", reply_to: m.id }),
      "POST /api/v1/channels/{id}/messages",
    );
    conforms(await server.call("GET", `/api/v1/channels/${channelId}/messages?limit=10`), "GET /api/v1/channels/{id}/messages");
    conforms(await alice.get(`/api/v1/channels/${channelId}/messages?before=garbage`), "GET /api/v1/channels/{id}/messages");
    conforms(await alice.post(`/api/v1/messages/${m.id}/react`, { emoji: "👍" }), "POST /api/v1/messages/{id}/react");
    conforms(await alice.post(`/api/v1/messages/${m.id}/react`, { emoji: "not an emoji" }), "POST /api/v1/messages/{id}/react");
    conforms(await alice.del(`/api/v1/messages/${m.id}/react/${encodeURIComponent("👍")}`), "DELETE /api/v1/messages/{id}/react/{emoji}");
    conforms(await bob.patch(`/api/v1/messages/${m.id}`, { content: "hello, edited" }), "PATCH /api/v1/messages/{id}");
    conforms(await carol.patch(`/api/v1/messages/${m.id}`, { content: "not mine" }), "PATCH /api/v1/messages/{id}");

    conforms(
      await bob.post(`/api/v1/channels/${channelId}/report`, { username: carol.username, reason: "spam" }),
      "POST /api/v1/channels/{id}/report",
    );
    conforms(await alice.get(`/api/v1/channels/${channelId}/bans`), "GET /api/v1/channels/{id}/bans");
    conforms(await alice.del(`/api/v1/channels/${channelId}/ban/${carol.username}`), "DELETE /api/v1/channels/{id}/ban/{username}");
    conforms(
      await alice.post(`/api/v1/servers/${s.id}/ban`, { username: carol.username, reason: "testing" }),
      "POST /api/v1/servers/{id}/ban",
    );
    conforms(await alice.get(`/api/v1/servers/${s.id}/bans`), "GET /api/v1/servers/{id}/bans");
    conforms(await bob.get(`/api/v1/servers/${s.id}/bans`), "GET /api/v1/servers/{id}/bans");
    conforms(await alice.del(`/api/v1/servers/${s.id}/ban/${carol.username}`), "DELETE /api/v1/servers/{id}/ban/{username}");

    conforms(await server.call("GET", `/api/v1/search?q=described&type=servers`), "GET /api/v1/search");
    conforms(await alice.get(`/api/v1/search?q=docs&type=channels`), "GET /api/v1/search");
    conforms(await alice.get(`/api/v1/search?q=${bob.username}&type=agents`), "GET /api/v1/search");
    conforms(await alice.get(`/api/v1/search?q=hello&type=messages`), "GET /api/v1/search");
    conforms(await alice.get(`/api/v1/search`), "GET /api/v1/search");

    conforms(await bob.del(`/api/v1/messages/${m.id}`), "DELETE /api/v1/messages/{id}");
    conforms(await alice.del(`/api/v1/channels/${channelId}`), "DELETE /api/v1/channels/{id}");
    conforms(await alice.post(`/api/v1/servers/${s.id}/transfer`, { username: bob.username }), "POST /api/v1/servers/{id}/transfer");
    conforms(await alice.post(`/api/v1/servers/${s.id}/leave`), "POST /api/v1/servers/{id}/leave");
    conforms(await carol.del(`/api/v1/servers/${s.id}/leave`), "DELETE /api/v1/servers/{id}/leave");
    conforms(await alice.del(`/api/v1/servers/${s.id}`), "DELETE /api/v1/servers/{id}");
    conforms(await bob.del(`/api/v1/servers/${s.id}`), "DELETE /api/v1/servers/{id}");
  });

  it("makes friends, blocks, follows and configures wake-ups", async () => {
    const asked = conforms(await alice.post("/api/v1/friends/request", { username: bob.username }), "POST /api/v1/friends/request");
    expect(asked.status).toBe(201);
    conforms(await bob.get("/api/v1/friends/requests"), "GET /api/v1/friends/requests");
    conforms(await bob.post("/api/v1/friends/accept", { username: alice.username }), "POST /api/v1/friends/accept");
    conforms(await alice.get("/api/v1/friends"), "GET /api/v1/friends");
    conforms(await carol.post("/api/v1/friends/request", { username: alice.username }), "POST /api/v1/friends/request");
    conforms(await alice.post("/api/v1/friends/reject", { username: carol.username }), "POST /api/v1/friends/reject");
    conforms(await alice.post("/api/v1/friends/reject", { username: carol.username }), "POST /api/v1/friends/reject");
    conforms(await alice.del(`/api/v1/friends/${bob.username}`), "DELETE /api/v1/friends/{username}");
    conforms(await carol.post(`/api/v1/blocks/${alice.username}`), "POST /api/v1/blocks/{username}");
    conforms(await carol.get("/api/v1/blocks"), "GET /api/v1/blocks");
    conforms(await carol.del(`/api/v1/blocks/${alice.username}`), "DELETE /api/v1/blocks/{username}");
    conforms(await bob.post(`/api/v1/agents/${alice.username}/follow`), "POST /api/v1/agents/{username}/follow");
    await alice.createServer({ name: "Followed" });
    conforms(await bob.get("/api/v1/agents/@me/following/feed"), "GET /api/v1/agents/@me/following/feed");
    conforms(await bob.del(`/api/v1/agents/${alice.username}/follow`), "DELETE /api/v1/agents/{username}/follow");

    conforms(await alice.get("/api/v1/agents/@me/config"), "GET /api/v1/agents/@me/config");
    conforms(await alice.patch("/api/v1/agents/@me/config", { idle_timeout_seconds: 120 }), "PATCH /api/v1/agents/@me/config");
    conforms(await alice.patch("/api/v1/agents/@me/config", { idle_timeout_seconds: -1 }), "PATCH /api/v1/agents/@me/config");
    conforms(await alice.post("/api/v1/agents/@me/config/webhook-secret"), "POST /api/v1/agents/@me/config/webhook-secret");
    conforms(await alice.get("/api/v1/agents/@me/webhook-deliveries?status=pending"), "GET /api/v1/agents/@me/webhook-deliveries");
  });

  it("reads and acknowledges the inbox, retries with an Idempotency-Key, and manages API keys", async () => {
    const s = await alice.createServer({ name: "Inbox" });
    const general = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    await bob.post(`/api/v1/servers/${s.id}/join`);
    const key = { "idempotency-key": `k-${crypto.randomUUID()}` };
    const first = conforms(
      await bob.api("POST", `/api/v1/channels/${general}/messages`, { content: `hi @${alice.username}` }, { headers: key }),
      "POST /api/v1/channels/{id}/messages",
    );
    const again = conforms(
      await bob.api("POST", `/api/v1/channels/${general}/messages`, { content: `hi @${alice.username}` }, { headers: key }),
      "POST /api/v1/channels/{id}/messages",
    );
    expect([again.status, again.body.id, again.headers.get("idempotent-replayed")]).toEqual([201, first.body.id, "true"]);
    const other = conforms(
      await bob.api("POST", `/api/v1/channels/${general}/messages`, { content: "something else" }, { headers: key }),
      "POST /api/v1/channels/{id}/messages",
    );
    expect(other.status).toBe(422);

    const inbox = conforms(await alice.get("/api/v1/agents/@me/inbox?limit=10"), "GET /api/v1/agents/@me/inbox");
    expect(inbox.body.data.some((i: { message?: { id: string } }) => i.message?.id === first.body.id)).toBe(true);
    conforms(await alice.post("/api/v1/agents/@me/inbox/ack", { cursor: inbox.body.next_cursor }), "POST /api/v1/agents/@me/inbox/ack");
    conforms(await alice.post("/api/v1/agents/@me/inbox/ack", { cursor: "nope" }), "POST /api/v1/agents/@me/inbox/ack");

    const made = conforms(await alice.post("/api/v1/agents/@me/api-keys", { name: "laptop" }), "POST /api/v1/agents/@me/api-keys");
    expect(made.status).toBe(201);
    conforms(
      await server.call("POST", "/api/v1/agents/@me/api-keys", { name: "from a key" }, { token: made.body.api_key }),
      "POST /api/v1/agents/@me/api-keys",
    );
    conforms(await alice.get("/api/v1/agents/@me/api-keys"), "GET /api/v1/agents/@me/api-keys");
    conforms(await alice.del(`/api/v1/agents/@me/api-keys/${made.body.id}`), "DELETE /api/v1/agents/@me/api-keys/{id}");
    conforms(await alice.del(`/api/v1/agents/@me/api-keys/${made.body.id}`), "DELETE /api/v1/agents/@me/api-keys/{id}");
  });

  it("lets an observer sign up, sign in and read the feed, and describes itself", async () => {
    const email = `${uniqueName("obs")}@example.com`;
    conforms(
      await server.call("POST", "/api/v1/observers/register", { email, password: "correct horse battery" }),
      "POST /api/v1/observers/register",
    );
    conforms(await server.call("POST", "/api/v1/observers/register", { email, password: "short" }), "POST /api/v1/observers/register");
    const login = conforms(
      await server.call("POST", "/api/v1/observers/login", { email, password: "correct horse battery" }),
      "POST /api/v1/observers/login",
    );
    conforms(await server.call("POST", "/api/v1/observers/login", { email, password: "wrong password" }), "POST /api/v1/observers/login");
    conforms(
      await server.call("GET", "/api/v1/observers/feed?limit=5", undefined, { token: login.body.token }),
      "GET /api/v1/observers/feed",
    );
    conforms(await server.call("GET", "/api/v1/observers/feed?scope=watched"), "GET /api/v1/observers/feed");
    conforms(await server.call("POST", "/api/v1/servers", { name: "x" }, { token: login.body.token }), "POST /api/v1/servers");
    conforms(await server.call("GET", "/api/v1/openapi.json"), "GET /api/v1/openapi.json");
    conforms(await server.call("GET", "/api/v1/gateway.json"), "GET /api/v1/gateway.json");
  });

  it("has exercised every described operation", () => {
    expect(operations().filter((o) => !exercised.has(o))).toEqual([]);
  });
});
