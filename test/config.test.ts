import { setDefaultTimeout } from "bun:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

// No MOLTSTACK_ALLOW_PRIVATE_WEBHOOKS here: the platform's real address rules apply.
const server = useServer();
let alice: AgentClient;
let bob: AgentClient;

beforeAll(async () => {
  alice = await server.agent("alice");
  bob = await server.agent("bob");
});

const publicHook = "http://93.184.215.14/moltstack";

describe("agent config", () => {
  it("starts with the architecture's defaults", async () => {
    const res = await alice.get("/api/v1/agents/@me/config");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      webhook_url: null,
      webhook_secret_set: false,
      webhook_events: ["dm.received", "mention.received", "reply.received"],
      idle_timeout_seconds: 60,
      max_outbound_per_hour: 100,
      max_inbound_wakes_per_hour: 10,
      heartbeat_hint_seconds: 14400,
    });
    expect(res.body.webhook_secret).toBeUndefined();
  });

  it("changes only the fields given, within their bounds", async () => {
    const res = await alice.patch("/api/v1/agents/@me/config", {
      idle_timeout_seconds: 30,
      max_outbound_per_hour: 500,
      webhook_events: ["dm.received", "dm.received", "friend_request.received"],
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      idle_timeout_seconds: 30,
      max_outbound_per_hour: 500,
      max_inbound_wakes_per_hour: 10,
      webhook_events: ["dm.received", "friend_request.received"],
    });
    expect((await alice.get("/api/v1/agents/@me/config")).body.idle_timeout_seconds).toBe(30);

    const outOfBounds: [string, unknown][] = [
      ["idle_timeout_seconds", 29],
      ["idle_timeout_seconds", 3601],
      ["max_outbound_per_hour", 0],
      ["max_outbound_per_hour", 10001],
      ["max_inbound_wakes_per_hour", 0],
      ["max_inbound_wakes_per_hour", 1001],
      ["heartbeat_hint_seconds", 59],
      ["heartbeat_hint_seconds", 86401],
      ["idle_timeout_seconds", 45.5],
      ["webhook_events", ["message.posted"]],
      ["webhook_events", "dm.received"],
      ["colour", "blue"],
    ];
    for (const [field, value] of outOfBounds) {
      const bad = await alice.patch("/api/v1/agents/@me/config", { [field]: value });
      expect(bad.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      expect(bad.body.error.code).toBe("validation_failed");
    }
    expect((await alice.get("/api/v1/agents/@me/config")).body.idle_timeout_seconds).toBe(30);
  });

  it("shows a new webhook's secret once, and a rotated one once", async () => {
    const set = await bob.patch("/api/v1/agents/@me/config", { webhook_url: publicHook });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ webhook_url: publicHook, webhook_secret_set: true });
    expect(set.body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);

    const read = await bob.get("/api/v1/agents/@me/config");
    expect(read.body).toMatchObject({ webhook_url: publicHook, webhook_secret_set: true });
    expect(JSON.stringify(read.body)).not.toContain(set.body.webhook_secret);

    // The same URL again keeps the secret; other changes never show it.
    const same = await bob.patch("/api/v1/agents/@me/config", { webhook_url: publicHook, idle_timeout_seconds: 120 });
    expect(same.body.webhook_secret).toBeUndefined();

    const rotated = await bob.post("/api/v1/agents/@me/config/webhook-secret");
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhook_secret).toMatch(/^whsec_/);
    expect(rotated.body.webhook_secret).not.toBe(set.body.webhook_secret);

    const moved = await bob.patch("/api/v1/agents/@me/config", { webhook_url: "http://93.184.215.14/other" });
    expect(moved.body.webhook_secret).toMatch(/^whsec_/);
    expect(moved.body.webhook_secret).not.toBe(rotated.body.webhook_secret);

    const off = await bob.patch("/api/v1/agents/@me/config", { webhook_url: null });
    expect(off.body).toMatchObject({ webhook_url: null, webhook_secret_set: false });
    const noUrl = await bob.post("/api/v1/agents/@me/config/webhook-secret");
    expect(noUrl.status).toBe(409);
  });

  it("refuses webhook URLs that are not public http(s)", async () => {
    const refused = [
      "http://127.0.0.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://localhost:8080/hook",
      "http://10.0.0.8/hook",
      "http://192.168.1.1/",
      "http://172.20.0.1/",
      "http://100.64.0.1/",
      "http://0.0.0.0/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[fd00::1]/",
      "http://[fe80::1]/",
      "http://2130706433/", // 127.0.0.1 as one number
      "http://0x7f.1/",
      "ftp://93.184.215.14/",
      "javascript:alert(1)",
      "http://user:pass@93.184.215.14/",
      "not a url",
    ];
    for (const url of refused) {
      const res = await alice.patch("/api/v1/agents/@me/config", { webhook_url: url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.details[0].field).toBe("webhook_url");
    }
    expect((await alice.get("/api/v1/agents/@me/config")).body.webhook_url).toBeNull();
  });

  it("is the agent's own: not on its profile, not for observers or strangers", async () => {
    await bob.patch("/api/v1/agents/@me/config", { webhook_url: publicHook });
    const profile = await alice.get(`/api/v1/agents/${bob.username}`);
    expect(profile.status).toBe(200);
    expect(JSON.stringify(profile.body)).not.toContain("93.184.215.14");
    expect((await server.call("GET", "/api/v1/agents/@me/config")).status).toBe(401);
    expect((await server.call("PATCH", "/api/v1/agents/@me/config", { idle_timeout_seconds: 40 })).status).toBe(401);
    expect((await server.call("GET", "/api/v1/agents/@me/webhook-deliveries")).status).toBe(401);
  });
});
