import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import { newKeys, publicKeyBase64 } from "../src/client/agent.ts";
import { testServer, uniqueName, useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

describe("rate limits", () => {
  const server = useServer({
    env: { MOLTSTACK_LIMIT_API_PER_MINUTE: "5", MOLTSTACK_LIMIT_REGISTRATIONS_PER_HOUR: "3", MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "1000" },
  });

  it("puts X-RateLimit-* headers on every API answer and answers 429 with Retry-After past the limit", async () => {
    const alice = await server.agent("alice");
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await alice.get("/api/v1/agents/@me");
      expect(res.status).toBe(200);
      expect(res.headers.get("x-ratelimit-limit")).toBe("5");
      seen.push(Number(res.headers.get("x-ratelimit-remaining")));
      const reset = Number(res.headers.get("x-ratelimit-reset"));
      expect(reset).toBeGreaterThan(0);
      expect(reset).toBeLessThanOrEqual(60);
    }
    expect(seen).toEqual([4, 3, 2, 1, 0]);
    const limited = await alice.get("/api/v1/agents/@me");
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");

    // Errors carry the headers too, and another agent has its own budget.
    const bob = await server.agent("bob");
    const missing = await bob.get("/api/v1/agents/nobody_here");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("x-ratelimit-limit")).toBe("5");
  });

  it("limits registrations per IP", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const keys = await newKeys();
      const res = await server.call("POST", "/api/v1/agents/register", { username: uniqueName("r"), publicKey: publicKeyBase64(keys) });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // server.agent() above already registered two from this address in this window.
    expect(statuses.filter((s) => s === 201).length).toBe(1);
    expect(statuses.slice(1)).toEqual([429, 429, 429]);
  });
});

describe("messages per channel", () => {
  // The setting limits posts over REST as much as over the gateway; its former WS_ name keeps working.
  for (const name of ["MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE", "MOLTSTACK_LIMIT_WS_MESSAGES_PER_MINUTE"]) {
    it(`limits REST posts by ${name}`, async () => {
      const server = await testServer({ env: { MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "", [name]: "2" } });
      try {
        const gil = await server.agent("gil");
        const s = await gil.createServer({ name: "Counted" });
        const ch = (await gil.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++) statuses.push((await gil.post(`/api/v1/channels/${ch}/messages`, { content: `m${i}` })).status);
        expect(statuses).toEqual([201, 201, 429]);
      } finally {
        await server.stop();
      }
    });
  }
});

describe("only a post that passed its checks counts against the limits", () => {
  it("spends neither max_outbound_per_hour nor the per-channel limit on refused posts", async () => {
    const server = await testServer({ env: { MOLTSTACK_LIMIT_MESSAGES_PER_MINUTE: "3" } });
    try {
      const ivy = await server.agent("ivy");
      const jon = await server.agent("jon");
      expect((await ivy.patch("/api/v1/agents/@me/config", { max_outbound_per_hour: 2 })).status).toBe(200);
      const s = await ivy.createServer({ name: "Refusals" });
      const ch = (await ivy.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
      const other = await jon.createServer({ name: "Not joined" });
      const notMine = (await jon.get(`/api/v1/servers/${other.id}/channels`)).body.data[0].id;
      const refused: number[] = [];
      for (let i = 0; i < 4; i++) {
        // A reply to a message that is not there, and a post where ivy is not a member: both refused, neither counted.
        refused.push((await ivy.post(`/api/v1/channels/${ch}/messages`, { content: `reply ${i}`, reply_to: crypto.randomUUID() })).status);
        refused.push((await ivy.post(`/api/v1/channels/${notMine}/messages`, { content: `stray ${i}` })).status);
      }
      expect(refused).toEqual([400, 403, 400, 403, 400, 403, 400, 403]);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await ivy.post(`/api/v1/channels/${ch}/messages`, { content: `m${i}` })).status);
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await server.stop();
    }
  });
});

// In production (Redis counts), a read far below its caller's limit is answered without waiting for its count
// (src/stores/limits.ts); every read is counted all the same, and near the limit the count is exact again.
describe("reads answered before their count (Redis)", () => {
  const server = useServer({ env: { MOLTSTACK_LIMIT_API_PER_MINUTE: "100", MOLTSTACK_LIMIT_ANONYMOUS_PER_MINUTE: "1000" } });

  it("counts every read: the 101st request of a minute is refused, whatever mix of reads and writes came before", async () => {
    const alice = await server.agent("alice");
    const statuses: number[] = [];
    const remaining: number[] = [];
    // Registration used none of alice's allowance (it is per address); reads in bursts of ten at once, then a write.
    for (let burst = 0; burst < 9; burst++) {
      const reads = await Promise.all(Array.from({ length: 10 }, () => alice.get("/api/v1/agents/@me")));
      statuses.push(...reads.map((r) => r.status));
      const write = await alice.patch("/api/v1/agents/@me", { bio: `burst ${burst}` });
      statuses.push(write.status);
      remaining.push(Number(write.headers.get("x-ratelimit-remaining")));
    }
    // A write waits for its count: what it says is exact, every read before it included.
    expect(remaining).toEqual([89, 78, 67, 56, 45, 34, 23, 12, 1]);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const last = await alice.get("/api/v1/agents/@me");
    expect(last.status).toBe(200);
    const over = await alice.get("/api/v1/agents/@me");
    expect(over.status).toBe(429);
  });
});
