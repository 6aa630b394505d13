// Where every message came from (provenance) and the platform's stop for agents answering each other forever (the
// loop guard), on every door: REST, the gateway and the Moltbook layer.

import { setDefaultTimeout } from "bun:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();
let alice: AgentClient;
let bob: AgentClient;
let serverId: string;
let channel: string;

beforeAll(async () => {
  [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
  const s = await alice.createServer({ name: "Provenance" });
  serverId = s.id;
  channel = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
  expect((await bob.post(`/api/v1/servers/${s.id}/join`)).status).toBeLessThan(300);
});

describe("provenance", () => {
  it("says which door, which client and how deep, in every view and frame", async () => {
    const watcher = await alice.connect();
    watcher.send({ op: "subscribe", channels: [channel] });
    await watcher.next((f) => f.op === "subscribed" || f.op === "context");

    const top = await alice.api(
      "POST",
      `/api/v1/channels/${channel}/messages`,
      { content: "top" },
      { headers: { "user-agent": "alice-bot/2.1 (linux; x64)" } },
    );
    expect(top.status).toBe(201);
    expect(top.body.provenance).toEqual({ via: "rest", client: "alice-bot/2.1", reply_depth: 0 });
    const frame = await watcher.next((f) => f.op === "message" && f.id === top.body.id);
    expect(frame.provenance).toEqual({ via: "rest", client: "alice-bot/2.1", reply_depth: 0 });

    // A reply over the gateway: one deeper than its parent.
    const socket = await bob.connect();
    socket.send({ op: "message", channel, content: "reply", reply_to: top.body.id, nonce: "r1" });
    const ack = await socket.next((f) => f.op === "message_ack" || f.op === "error");
    expect(ack.op).toBe("message_ack");
    const reply = await watcher.next((f) => f.op === "message" && f.id === ack.id);
    expect(reply.provenance).toMatchObject({ via: "gateway", reply_depth: 1 });
    socket.close();

    // A long or odd client name is cut to its product token, at most 64 printable characters.
    const long = await alice.api(
      "POST",
      `/api/v1/channels/${channel}/messages`,
      { content: "long" },
      { headers: { "user-agent": `${"x".repeat(100)} rest` } },
    );
    expect(long.body.provenance.client).toBe("x".repeat(64));

    // Through the Moltbook layer; and in history as it was posted.
    const post = await alice.api("POST", "/compat/moltbook/api/v1/posts", { submolt: serverId, title: "From Moltbook" });
    expect(post.status).toBe(201);
    const history = (await alice.get(`/api/v1/channels/${channel}/messages?limit=10`)).body.data;
    const byId = new Map(history.map((m: { id: string; provenance: unknown }) => [m.id, m.provenance]));
    expect(byId.get(top.body.id)).toEqual({ via: "rest", client: "alice-bot/2.1", reply_depth: 0 });
    expect(byId.get(ack.id)).toMatchObject({ via: "gateway", reply_depth: 1 });
    expect(byId.get(post.body.post.id)).toMatchObject({ via: "moltbook", reply_depth: 0 });
    watcher.close();

    // The observer UI shows it on hover.
    const page = await (await fetch(new URL(`/servers/${serverId}/channels/${channel}`, server.url))).text();
    expect(page).toContain(
      `id="m-${top.body.id}" data-id="${top.body.id}" data-author="${alice.username}" title="via rest · alice-bot/2.1 · top-level"`,
    );
    expect(page).toContain(`title="via gateway · reply depth 1"`);
  });
});

describe("the loop guard", () => {
  it("refuses a reply deeper than the server's max_reply_depth on every door; top-level messages are unaffected", async () => {
    expect((await bob.patch(`/api/v1/servers/${serverId}`, { max_reply_depth: 3 })).status).toBe(403);
    for (const bad of [1, 1001, "3"]) expect((await alice.patch(`/api/v1/servers/${serverId}`, { max_reply_depth: bad })).status).toBe(400);
    const set = await alice.patch(`/api/v1/servers/${serverId}`, { max_reply_depth: 3 });
    expect(set.body.max_reply_depth).toBe(3);

    // Alice and Bob answer each other: depths 1, 2, 3 pass, the fourth is a loop.
    const root = await alice.send(channel, "ping");
    let parent = root.id;
    for (let depth = 1; depth <= 3; depth++) {
      const who = depth % 2 ? bob : alice;
      parent = (await who.send(channel, `pong ${depth}`, { reply_to: parent })).id;
    }
    const refused = await bob.post(`/api/v1/channels/${channel}/messages`, { content: "pong 4", reply_to: parent });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe("loop_detected");
    expect(refused.body.error.details[0]).toMatchObject({ root_id: root.id, depth: 4 });

    const socket = await bob.connect();
    socket.send({ op: "message", channel, content: "pong 4", reply_to: parent, nonce: "loop" });
    expect(await socket.next((f) => f.op === "message_ack" || f.op === "error")).toMatchObject({
      op: "error",
      code: "loop_detected",
      ref: "loop",
    });
    socket.close();

    const comment = await bob.api("POST", `/compat/moltbook/api/v1/posts/${root.id}/comments`, { content: "deep", parent_id: parent });
    expect(comment.status).toBe(429);
    expect(comment.body.code).toBe("loop_detected");

    // A new top-level message, and a reply to it, go through.
    const fresh = await bob.send(channel, "new thread");
    expect((await alice.send(channel, "answer", { reply_to: fresh.id })).provenance.reply_depth).toBe(1);
  });
});

describe("the docs", () => {
  it("describe provenance and the loop guard: OpenAPI, the gateway, skill.md and rules.md", async () => {
    const api = (await server.call("GET", "/api/v1/openapi.json")).body;
    expect(Object.keys(api.components.schemas.Provenance.properties).toSorted()).toEqual(["client", "reply_depth", "via"]);
    expect(api.components.schemas.Provenance.properties.via.enum).toEqual(["rest", "gateway", "moltbook", "mcp"]);
    expect(JSON.stringify(api.components.schemas.Message)).toContain("Provenance");
    expect(JSON.stringify(api.components.schemas.Server)).toContain("max_reply_depth");
    expect(JSON.stringify(api)).toContain("loop_detected");
    const gateway = JSON.stringify((await server.call("GET", "/api/v1/gateway.json")).body);
    expect(gateway).toContain("reply_depth");
    expect(gateway).toContain("mcp");
    for (const doc of ["/skill.md", "/rules.md"]) {
      const text = await (await fetch(new URL(doc, server.url))).text();
      for (const word of ["provenance", "reply_depth", "max_reply_depth", "loop_detected"])
        expect([doc, text.includes(word)]).toEqual([doc, true]);
    }
  });
});
