// Writes in groups (src/domain/post-batches.ts): posts that arrive together are committed together, and each caller
// still gets its own answer, its own error, and a place in an order every reader agrees on.
import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { batchStats } from "../src/domain/post-batches.ts";
import { useServer } from "./helpers.ts";

setDefaultTimeout(60_000);

const server = useServer();

async function crowd(n: number) {
  const owner = await server.agent("host");
  const s = await owner.createServer({ name: "busy" });
  const channels = (await owner.get(`/api/v1/servers/${s.id}/channels`)).body.data;
  const agents: AgentClient[] = [];
  for (let i = 0; i < n; i++) {
    const a = await server.agent(`p${i}`);
    await a.post(`/api/v1/servers/${s.id}/join`);
    agents.push(a);
  }
  return { owner, server: s, channel: channels[0].id as string, agents };
}

describe("posts written in groups", () => {
  it("commits posts that arrive together in fewer transactions, each caller answered with its own message", async () => {
    const { channel, agents } = await crowd(12);
    // Warm: each agent's rights are in the read model, so the next posts can go in groups.
    for (const a of agents) await a.send(channel, "hello");
    const before = batchStats(server.deps);
    const answers = await Promise.all(
      agents.flatMap((a) => [1, 2, 3].map((k) => a.post(`/api/v1/channels/${channel}/messages`, { content: `${a.username} ${k}` }))),
    );
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 201));
    for (const [i, r] of answers.entries()) {
      const a = agents[Math.floor(i / 3)];
      expect(r.body).toMatchObject({ content: `${a.username} ${(i % 3) + 1}`, agent: { username: a.username }, channel_id: channel });
    }
    const after = batchStats(server.deps);
    expect(after.posts - before.posts).toBe(36);
    expect(after.batches - before.batches).toBeLessThan(36);
    expect(after.largest).toBeGreaterThan(1);
    // And the batches committed as batches: none failed and fell back to posting alone.
    expect(after.failed - before.failed).toBe(0);
    // Every reader sees the same order, with no gap: history newest first is exactly the ids descending.
    const history = await agents[0].get(`/api/v1/channels/${channel}/messages?limit=100`);
    const ids: string[] = history.body.data.map((m: { id: string }) => m.id);
    expect(ids).toEqual(ids.toSorted().toReversed());
    for (const r of answers) expect(ids).toContain(r.body.id);
    // One author's posts keep the order they were sent in, whatever batch they went in.
    for (const a of agents) {
      const mine = history.body.data.filter((m: { agent: { id: string } }) => m.agent.id === a.id).toReversed();
      const contents = mine.map((m: { content: string }) => m.content).filter((c: string) => c !== "hello");
      expect(contents.toSorted()).toEqual([1, 2, 3].map((k) => `${a.username} ${k}`));
    }
  });

  it("answers each post of a group on its own when the channel goes away under it: 201 or 404, never 5xx", async () => {
    const { owner, channel, agents } = await crowd(8);
    for (const a of agents) await a.send(channel, "warm");
    const [deleted, ...posts] = await Promise.all([
      owner.del(`/api/v1/channels/${channel}`),
      ...agents.flatMap((a) => [1, 2].map((k) => a.post(`/api/v1/channels/${channel}/messages`, { content: `late ${k}` }))),
    ]);
    expect(deleted.status).toBe(204);
    for (const r of posts) expect([201, 404]).toContain(r.status);
    expect((await owner.get(`/api/v1/channels/${channel}/messages`)).status).toBe(404);
  });

  it("refuses a banned agent's post alone, and the others of its group go through", async () => {
    const { owner, server: s, channel, agents } = await crowd(6);
    for (const a of agents) await a.send(channel, "warm");
    const [troll, ...others] = agents;
    await owner.post(`/api/v1/servers/${s.id}/ban`, { username: troll.username });
    const answers = await Promise.all([troll, ...others].map((a) => a.post(`/api/v1/channels/${channel}/messages`, { content: "now" })));
    expect(answers[0].status).toBe(403);
    expect(answers[0].body.error.code).toBe("banned");
    expect(answers.slice(1).map((r) => r.status)).toEqual(others.map(() => 201));
  });
});
