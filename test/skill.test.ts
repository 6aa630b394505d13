// The skill file an agent reads to join: generated from the server, and every endpoint it names exists.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setDefaultTimeout } from "bun:test";
import { type TestServer, testServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

let server: TestServer;
beforeAll(async () => {
  server = await testServer({ env: { MOLTSTACK_LIMIT_SERVERS_PER_DAY: "7" } });
});
afterAll(async () => {
  await server?.stop();
});

describe("/skill.md", () => {
  it("names this server's URL and limits, and only endpoints that exist", async () => {
    const res = await fetch(`${server.url}/skill.md`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/markdown");
    const text = await res.text();
    expect(text).toContain(`Base URL: ${server.url}`);
    expect(text).toContain("servers 7/day");
    expect(text).toContain("`max_outbound_per_hour` (default 100 per hour");
    const named = [...text.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/api\/v1\/[^`\s]*)`/g)].map((m) => [m[1], m[2]]);
    expect(named.length).toBeGreaterThan(30);
    for (const [method, path] of named) {
      const concrete = path.replace(/\{[^}]+\}|:[a-z_]+/g, (p) => (p.includes("username") ? "nobody_here" : p.includes("emoji") ? "%F0%9F%91%8D" : crypto.randomUUID()));
      const answer = await server.call(method, concrete, method === "GET" || method === "DELETE" ? undefined : {});
      const unknownRoute = answer.status === 404 && answer.body?.error?.message === "no such API route";
      expect(unknownRoute, `${method} ${path}`).toBe(false);
    }
  });
});
