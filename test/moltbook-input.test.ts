// The Moltbook layer's one validation: its routes are described at /compat/moltbook/api/v1/openapi.json (every route
// the app mounts under it, nothing else), bad input is a 400 naming the fields in Moltbook's envelope, hostile input
// is never a 500, and what the layer answers validates against its description.

import { setDefaultTimeout } from "bun:test";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient, ApiResponse } from "../src/client/agent.ts";
import { uniqueName, useServer } from "./helpers.ts";

setDefaultTimeout(120_000);

const server = useServer();
const prefix = "/compat/moltbook/api/v1";
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

const mb = (agent: AgentClient | null, method: string, path: string, body?: unknown) =>
  server.call(method, `${prefix}${path}`, body, agent ? { token: agent.tokens.api_token } : {});

beforeAll(async () => {
  const res = await server.call("GET", `${prefix}/openapi.json`);
  expect(res.status).toBe(200);
  doc = res.body;
  ajv.addSchema(doc, "moltbook");
});

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
  );

const pointer = (...segments: string[]) =>
  `moltbook#/${segments.map((s) => encodeURIComponent(s.replace(/~/g, "~0").replace(/\//g, "~1"))).join("/")}`;

/** Checks one real answer against the description of `METHOD /template`: its status is described and its body fits. */
function conforms<T>(res: ApiResponse<T>, operation: string): ApiResponse<T> {
  const [method, template] = operation.split(" ");
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${operation} is described`).toBeDefined();
  const described = op.responses[String(res.status)];
  expect(described, `${operation} answered ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}, which is not described`).toBeDefined();
  const validate = ajv.getSchema(
    pointer("paths", template, method.toLowerCase(), "responses", String(res.status), "content", "application/json", "schema"),
  )!;
  const ok = validate(res.body);
  expect(ok ? [] : validate.errors, `${operation} ${res.status}: ${JSON.stringify(res.body)?.slice(0, 300)}`).toEqual([]);
  return res;
}

/** A 400 in Moltbook's envelope whose details name exactly `fields` (in any order). */
function refusedNaming(res: ApiResponse, fields: string[], what: string) {
  expect([what, res.status, res.body?.success, res.body?.code]).toEqual([what, 400, false, "validation_failed"]);
  expect(typeof res.body.error, what).toBe("string");
  expect(res.body.hint, what).toContain("details");
  const named = [...new Set(res.body.details.map((d: { field?: string }) => d.field))].sort();
  expect([what, named]).toEqual([what, [...fields].sort()]);
}

describe("the Moltbook layer's description", () => {
  it("is OpenAPI 3.1 served from the layer's own URL, with Moltbook's error envelope", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers[0].url).toBe(`${server.url}${prefix}`);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.components.schemas.MoltbookError400.required).toEqual(expect.arrayContaining(["success", "error", "hint", "code"]));
    const post = doc.paths["/posts"].post;
    expect(post.security).toEqual([{ bearer: [] }]);
    const body = post.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["title"]);
    expect(body.properties.url.maxLength).toBe(2048);
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(["201", "400", "401", "403", "404", "422", "429"]));
    expect(post.parameters.find((p: { name: string }) => p.name === "Idempotency-Key")).toBeDefined();
  });

  it("describes every Moltbook route the app mounts, and nothing it does not", () => {
    const mounted = new Set(
      server.app.routes
        .filter((r) => r.method !== "ALL" && r.path.startsWith(`${prefix}/`))
        .map((r) => `${r.method} ${r.path.slice(prefix.length).replace(/:([A-Za-z_]+)/g, "{$1}")}`),
    );
    expect(mounted.size).toBeGreaterThan(35);
    expect([...mounted].filter((r) => !operations().includes(r))).toEqual([]);
    expect(operations().filter((r) => !mounted.has(r))).toEqual([]);
    // And the native API's description does not list the layer's routes.
    return server.call("GET", "/api/v1/openapi.json").then((native) => {
      expect(Object.keys(native.body.paths).filter((p) => p.startsWith("/compat"))).toEqual([]);
    });
  });
});

describe("what the layer answers", () => {
  it("validates against its description, for a migrating agent's whole session", async () => {
    const name = uniqueName("molty");
    const registered = conforms(await mb(null, "POST", "/agents/register", { name, description: "new here" }), "POST /agents/register");
    expect(registered.status).toBe(201);
    const molty = { tokens: { api_token: registered.body.agent.api_key } } as AgentClient;
    const [bob, carol] = await Promise.all([server.agent("bob"), server.agent("carol")]);
    const exercised = new Set(["POST /agents/register"]);
    const ok = async (who: AgentClient | null, operation: string, path: string, body?: unknown) => {
      const res = conforms(await mb(who, operation.split(" ")[0], path, body), operation);
      exercised.add(operation);
      expect([operation, res.status, res.body.success]).toEqual([operation, res.status < 300 ? res.status : 200, true]);
      return res.body;
    };
    await ok(molty, "GET /agents/status", "/agents/status");
    await ok(molty, "GET /agents/me", "/agents/me");
    await ok(molty, "PATCH /agents/me", "/agents/me", { description: "still new" });
    await ok(molty, "DELETE /agents/me/avatar", "/agents/me/avatar");
    await ok(null, "GET /agents/profile", `/agents/profile?name=${name}`);
    await ok(molty, "POST /agents/{name}/follow", `/agents/${bob.username}/follow`);
    await ok(molty, "DELETE /agents/{name}/follow", `/agents/${bob.username}/follow`);

    const place = uniqueName("p").replace(/_/g, "-").slice(0, 30);
    await ok(molty, "POST /submolts", "/submolts", { name: place, display_name: "A Place", description: "for tests" });
    await ok(null, "GET /submolts", "/submolts");
    await ok(bob, "GET /submolts/{name}", `/submolts/${place}`);
    await ok(bob, "POST /submolts/{name}/subscribe", `/submolts/${place}/subscribe`);
    await ok(molty, "PATCH /submolts/{name}/settings", `/submolts/${place}/settings`, { description: "renamed", theme_color: "#ff0000" });
    await ok(molty, "POST /submolts/{name}/moderators", `/submolts/${place}/moderators`, { agent_name: `@${bob.username}` });
    await ok(null, "GET /submolts/{name}/moderators", `/submolts/${place}/moderators`);
    await ok(molty, "DELETE /submolts/{name}/moderators", `/submolts/${place}/moderators`, { agent_name: bob.username });

    const post = (
      await ok(molty, "POST /posts", "/posts", { submolt: place, title: "Hello", content: "first", url: "https://example.com" })
    ).post;
    await ok(null, "GET /posts", `/posts?submolt=${place}&sort=new`);
    await ok(null, "GET /posts/{id}", `/posts/${post.id}`);
    await ok(null, "GET /submolts/{name}/feed", `/submolts/${place}/feed?sort=top&limit=5`);
    await ok(bob, "GET /feed", "/feed?sort=new");
    const comment = (await ok(bob, "POST /posts/{id}/comments", `/posts/${post.id}/comments`, { content: "welcome" })).comment;
    await ok(molty, "POST /posts/{id}/comments", `/posts/${post.id}/comments`, { content: "thanks", parent_id: comment.id });
    await ok(null, "GET /posts/{id}/comments", `/posts/${post.id}/comments?sort=old`);
    await ok(bob, "POST /posts/{id}/upvote", `/posts/${post.id}/upvote`);
    await ok(bob, "POST /posts/{id}/downvote", `/posts/${post.id}/downvote`);
    await ok(molty, "POST /comments/{id}/upvote", `/comments/${comment.id}/upvote`);
    await ok(molty, "POST /comments/{id}/downvote", `/comments/${comment.id}/downvote`);
    await ok(null, "GET /search", "/search?q=welcome&type=all");

    await ok(molty, "POST /agents/dm/request", "/agents/dm/request", { to: bob.username, message: "hi bob" });
    await ok(bob, "GET /agents/dm/check", "/agents/dm/check");
    const request = (await ok(bob, "GET /agents/dm/requests", "/agents/dm/requests")).requests[0];
    const approved = await ok(bob, "POST /agents/dm/requests/{id}/approve", `/agents/dm/requests/${request.conversation_id}/approve`);
    await ok(molty, "GET /agents/dm/conversations", "/agents/dm/conversations");
    await ok(molty, "POST /agents/dm/conversations/{id}/send", `/agents/dm/conversations/${approved.conversation_id}/send`, {
      message: "hello",
    });
    await ok(bob, "GET /agents/dm/conversations/{id}", `/agents/dm/conversations/${approved.conversation_id}`);
    await ok(carol, "POST /agents/dm/request", "/agents/dm/request", { to: `@${bob.username}` });
    const unwanted = (await ok(bob, "GET /agents/dm/requests", "/agents/dm/requests")).requests[0];
    // A client that sends no body at all: the block flag is simply absent.
    await ok(bob, "POST /agents/dm/requests/{id}/reject", `/agents/dm/requests/${unwanted.conversation_id}/reject`);
    await ok(molty, "DELETE /posts/{id}", `/posts/${post.id}`);
    await ok(bob, "DELETE /submolts/{name}/subscribe", `/submolts/${place}/subscribe`);
    conforms(await mb(null, "GET", "/openapi.json"), "GET /openapi.json");
    exercised.add("GET /openapi.json");
    // Every described route was called, its answer checked.
    expect(operations().filter((o) => !exercised.has(o))).toEqual([]);
  });
});

describe("bad input on the Moltbook routes", () => {
  it("answers 400 validation_failed naming the fields: wrong types, missing fields, unsafe links, control characters", async () => {
    const alice = await server.agent("alice");
    const post = conforms(await mb(alice, "POST", "/posts", { title: "A post to answer" }), "POST /posts").body.post;
    const cases: [string, string, unknown, string[]][] = [
      ["POST /posts", "/posts", {}, ["title"]],
      ["POST /posts", "/posts", { title: 42, submolt: ["general"] }, ["title", "submolt"]],
      ["POST /posts", "/posts", { title: "Link", url: "javascript:alert(1)" }, ["url"]],
      ["POST /posts", "/posts", { title: "Link", url: "data:text/html,<script>alert(1)</script>" }, ["url"]],
      ["POST /posts", "/posts", { title: "Link", url: "not a url" }, ["url"]],
      ["POST /posts", "/posts", { title: "two\nlines" }, ["title"]],
      ["POST /posts", "/posts", { title: "bell\u0007" }, ["title"]],
      ["POST /posts", "/posts", { title: "x\u202Eevil" }, ["title"]],
      ["POST /posts", "/posts", { title: "fine", content: 7 }, ["content"]],
      ["POST /posts/{id}/comments", `/posts/${post.id}/comments`, {}, ["content"]],
      ["POST /posts/{id}/comments", `/posts/${post.id}/comments`, { content: "\u200b\u202e" }, ["content"]],
      ["POST /posts/{id}/comments", `/posts/${post.id}/comments`, { content: "hi", parent_id: "not-an-id" }, ["parent_id"]],
      ["POST /submolts", "/submolts", { name: "Not A Name!" }, ["name"]],
      [
        "POST /submolts",
        "/submolts",
        { name: "fine-name", display_name: "tab\there", allow_crypto: "yes" },
        ["display_name", "allow_crypto"],
      ],
      ["PATCH /agents/me", "/agents/me", { description: ["x"] }, ["description"]],
      ["PATCH /agents/me", "/agents/me", { description: "x".repeat(300) }, ["description"]],
      ["POST /agents/dm/request", "/agents/dm/request", { to: "no spaces allowed", message: 5 }, ["to", "message"]],
      ["POST /submolts/{name}/moderators", "/submolts/general/moderators", { agent_name: "" }, ["agent_name"]],
      ["PATCH /submolts/{name}/settings", "/submolts/general/settings", { description: 1 }, ["description"]],
      ["POST /agents/dm/requests/{id}/reject", `/agents/dm/requests/${post.id}/reject`, { block: "yes" }, ["block"]],
      ["GET /posts", "/posts?limit=abc&sort=best", undefined, ["limit", "sort"]],
      ["GET /posts/{id}/comments", `/posts/${post.id}/comments?sort=random`, undefined, ["sort"]],
      ["GET /search", "/search?q=", undefined, ["q"]],
      ["GET /agents/profile", "/agents/profile", undefined, ["name"]],
      ["POST /agents/{name}/follow", "/agents/Not%20a%20name/follow", undefined, ["name"]],
    ];
    for (const [operation, path, body, fields] of cases) {
      const [method] = operation.split(" ");
      const what = `${method} ${path} ${JSON.stringify(body)}`;
      refusedNaming(conforms(await mb(alice, method, path, body), operation), fields, what);
    }
    // Registration, with no key at all.
    for (const [body, fields] of [
      [{}, ["name"]],
      [{ name: "x" }, ["name"]],
      [{ name: "admin" }, ["name"]],
      [{ name: uniqueName("fine"), description: { a: 1 } }, ["description"]],
    ] as const) {
      refusedNaming(conforms(await mb(null, "POST", "/agents/register", body), "POST /agents/register"), [...fields], JSON.stringify(body));
    }
    // A body that is not an object, or not JSON at all.
    for (const body of [[], "text", 42, null]) {
      const res = conforms(await mb(alice, "POST", "/posts", body), "POST /posts");
      expect([body, res.status, res.body.code]).toEqual([body, 400, "validation_failed"]);
    }
    const broken = await server.call("POST", `${prefix}/posts`, undefined, {
      token: alice.tokens.api_token,
      rawBody: '{"title": ',
      headers: { "content-type": "application/json" },
    });
    expect(conforms(broken, "POST /posts").body).toMatchObject({ success: false, code: "invalid_json" });
    // Who may call is settled before the input is: no key is a 401 whatever the body.
    expect((await mb(null, "POST", "/posts", { title: 42 })).status).toBe(401);
    // A good post still goes through, and a client's empty body on a vote is no body.
    expect(
      conforms(await mb(alice, "POST", "/posts", { title: "A good link 🦞", url: "https://example.com/a" }), "POST /posts").status,
    ).toBe(201);
    const bob = await server.agent("bob");
    await mb(bob, "POST", "/submolts/general/subscribe");
    expect(conforms(await mb(bob, "POST", `/posts/${post.id}/upvote`), "POST /posts/{id}/upvote").status).toBe(200);
  });

  it("hostile input on every Moltbook route never answers 500, always in Moltbook's envelope, as described", async () => {
    const alice = await server.agent("alice");
    const params = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%27%20OR%201%3D1--", "a".repeat(300), "%00"];
    const bodies: unknown[] = [
      null,
      [],
      "text",
      42,
      { title: { $gt: "" }, content: ["x"], name: 5, url: "javascript:alert(1)", message: "\u0000", to: ["a"], agent_name: {} },
      { title: "x".repeat(400), content: "x".repeat(5000), description: "x".repeat(3000), q: "x" },
    ];
    const queries = ["", "?limit=-1&sort=../../", "?limit=1e9&cursor=%00&filter=evil&q=%25%5F%27&type=x&name=%00"];
    let calls = 0;
    for (const operation of operations()) {
      if (operation === "POST /agents/register") continue; // registers agents: covered above
      const [method, template] = operation.split(" ");
      for (const p of template.includes("{") ? params : [""]) {
        const path = template.replace(/\{[a-z_]+\}/g, p);
        for (const who of [alice, null]) {
          for (const body of method === "GET" || method === "DELETE" ? [undefined] : bodies) {
            for (const q of method === "GET" ? queries : [""]) {
              const res = await mb(who, method, path + q, body);
              calls++;
              const what = `${method} ${path}${q} ${JSON.stringify(body)?.slice(0, 40)}`;
              expect(res.status, what).toBeLessThan(500);
              if (res.status >= 400) {
                expect([what, res.body?.success, typeof res.body?.code, typeof res.body?.error]).toEqual([what, false, "string", "string"]);
                expect(JSON.stringify(res.body)).not.toMatch(/select |insert |\bat .*\.ts:|stack/i);
              }
              conforms(res, operation);
            }
          }
        }
      }
    }
    expect(calls).toBeGreaterThan(500);
  });
});
