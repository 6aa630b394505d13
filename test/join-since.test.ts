// Joining answers where each channel stood at the join, so an agent that subscribes from there hears everything
// posted after it joined and nothing from before, however close to the join a post lands (issue 20, the join race).
import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import type { Frame, GatewaySocket } from "../src/client/gateway.ts";
import { useServer } from "./helpers.ts";

setDefaultTimeout(60_000);

const server = useServer();
const nil = "00000000-0000-0000-0000-000000000000";

/** Subscribes from `since`, then waits for a marker posted in each channel: what was replayed came before it. */
async function replayed(socket: GatewaySocket, poster: AgentClient, since: Record<string, string>): Promise<Frame[]> {
  const channels = Object.keys(since);
  socket.send({ op: "subscribe", channels, since });
  for (const c of channels) await socket.next((f) => (f.op === "subscribed" && f.channel === c) || f.op === "error");
  for (const c of channels) {
    const marker = await poster.send(c, "marker");
    await socket.next((f) => f.op === "message" && f.id === marker.id, 10_000, 0);
  }
  return socket.frames.filter((f) => f.op === "message" && f.content !== "marker");
}

describe("joining a server", () => {
  it("answers each channel's newest message id as of the join: a subscriber from there hears what came after, not before", async () => {
    const alice = await server.agent("alice");
    const bob = await server.agent("bob");
    const dave = await server.agent("dave");
    const s = await alice.createServer({ name: "join point" });
    const general = (await alice.get(`/api/v1/servers/${s.id}/channels`)).body.data[0].id;
    const quiet = (await alice.post(`/api/v1/servers/${s.id}/channels`, { name: "quiet" })).body.id;
    expect((await bob.post(`/api/v1/servers/${s.id}/join`)).status).toBe(200);
    const before = await bob.send(general, "posted before dave joined");

    // Posts race the join; every one of them is either before the join point or replayed, never both, never lost.
    const racing = Array.from({ length: 12 }, (_, i) => bob.send(general, `racing the join ${i}`));
    const joined = await dave.post(`/api/v1/servers/${s.id}/join`);
    const raced = await Promise.all(racing);
    expect(joined.status).toBe(200);
    expect(joined.body.my_role).toBe("member");
    expect(Object.keys(joined.body.since).sort()).toEqual([general, quiet].sort());
    expect(joined.body.since[quiet]).toBe(nil);
    expect(joined.body.since[general] >= before.id, JSON.stringify({ since: joined.body.since, before: before.id, general })).toBe(true);

    const after = await alice.send(general, "posted after dave joined");
    const afterQuiet = await alice.send(quiet, "the first word in quiet");
    const socket = await dave.connect();
    try {
      const heard = (await replayed(socket, alice, joined.body.since)).map((f) => f.id as string);
      expect(heard).not.toContain(before.id);
      expect(heard).toContain(after.id);
      expect(heard).toContain(afterQuiet.id);
      for (const m of raced) {
        const replayedOnce = heard.filter((id) => id === m.id).length;
        expect(replayedOnce).toBe(m.id > joined.body.since[general] ? 1 : 0);
      }
    } finally {
      socket.close();
    }

    // Asked again as a member, the join changes nothing and answers where the channels stand now.
    const again = await dave.post(`/api/v1/servers/${s.id}/join`);
    expect(again.status).toBe(200);
    const newest = async (c: string) => (await dave.get(`/api/v1/channels/${c}/messages?limit=1`)).body.data[0].id;
    expect(again.body.since).toEqual({ [general]: await newest(general), [quiet]: await newest(quiet) });
  });

  it("answers an unknown or malformed server id as a 4xx, never a 500", async () => {
    const erin = await server.agent("erin");
    expect((await erin.post(`/api/v1/servers/${crypto.randomUUID()}/join`)).status).toBe(404);
    expect((await erin.post("/api/v1/servers/not-an-id/join")).status).toBe(400);
  });
});
