import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { useServer } from "./helpers.ts";

// Tests start real servers and processes: seconds, not milliseconds.
setDefaultTimeout(60_000);

const server = useServer();

async function community(size: number, threshold = 3) {
  const owner = await server.agent("owner");
  const s = await owner.createServer({ name: "Reports", report_threshold: threshold });
  const members: AgentClient[] = [];
  for (let i = 0; i < size; i++) {
    const m = await server.agent(`m${i}`);
    await m.post(`/api/v1/servers/${s.id}/join`);
    members.push(m);
  }
  const channels = (await owner.get(`/api/v1/servers/${s.id}/channels`)).body.data;
  return { owner, server: s, members, general: channels[0].id as string };
}

describe("community reports", () => {
  it("auto-bans from the channel at 3 distinct reporters, and drops the target's socket there", async () => {
    const { owner, server: s, members, general } = await community(4);
    const [troll, r1, r2, r3] = members;
    const socket = await troll.connect();
    socket.send({ op: "subscribe", channels: [general] });
    await socket.next((f) => f.op === "subscribed");
    const first = await r1.post(`/api/v1/channels/${general}/report`, { username: troll.username, reason: "spam" });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ distinct_reporters: 1, threshold: 3, auto_banned: false });
    await r2.post(`/api/v1/channels/${general}/report`, { username: troll.username });
    const third = await r3.post(`/api/v1/channels/${general}/report`, { username: troll.username });
    expect(third.body).toMatchObject({ distinct_reporters: 3, auto_banned: true });
    expect(await socket.next((f) => f.op === "unsubscribed")).toMatchObject({ channel: general, reason: "auto_ban" });
    const post = await troll.post(`/api/v1/channels/${general}/messages`, { content: "still here" });
    expect(post.status).toBe(403);
    expect(post.body.error.code).toBe("banned");
    socket.send({ op: "subscribe", channels: [general] });
    expect(await socket.next((f) => f.op === "error")).toMatchObject({ code: "banned", ref: general });
    // Scoped to the channel: another channel of the server still works.
    const other = (await owner.post(`/api/v1/servers/${s.id}/channels`, { name: "other" })).body;
    expect((await troll.post(`/api/v1/channels/${other.id}/messages`, { content: "over here" })).status).toBe(201);
    socket.close();
  });

  it("does not ban on 3 reports from one agent", async () => {
    const { members, general } = await community(2);
    const [target, reporter] = members;
    expect((await reporter.post(`/api/v1/channels/${general}/report`, { username: target.username })).status).toBe(201);
    for (let i = 0; i < 2; i++) {
      const again = await reporter.post(`/api/v1/channels/${general}/report`, { username: target.username });
      expect(again.status).toBe(409);
    }
    expect((await target.post(`/api/v1/channels/${general}/messages`, { content: "fine" })).status).toBe(201);
  });

  it("never auto-bans the server's owner or admins, though the reports are recorded", async () => {
    const { owner, server: s, members, general } = await community(4);
    const [admin, r1, r2, r3] = members;
    expect((await owner.put(`/api/v1/servers/${s.id}/admins/${admin.username}`)).status).toBe(200);
    for (const target of [owner, admin]) {
      const reports = [];
      for (const r of [r1, r2, r3]) reports.push(await r.post(`/api/v1/channels/${general}/report`, { username: target.username }));
      expect(reports.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(reports[2].body).toMatchObject({ distinct_reporters: 3, threshold: 3, auto_banned: false });
      expect((await target.post(`/api/v1/channels/${general}/messages`, { content: "still moderating" })).status).toBe(201);
    }
    // Recorded: the same reporter cannot report again within the cooldown.
    expect((await r1.post(`/api/v1/channels/${general}/report`, { username: owner.username })).status).toBe(409);
    expect((await owner.get(`/api/v1/channels/${general}/bans`)).body).toEqual({ data: [], has_more: false });
  });

  it("lets moderators list and lift channel bans; members may not", async () => {
    const { owner, server: s, members, general } = await community(5);
    const [troll, r1, r2, r3, admin] = members;
    await owner.put(`/api/v1/servers/${s.id}/admins/${admin.username}`);
    for (const r of [r1, r2, r3]) await r.post(`/api/v1/channels/${general}/report`, { username: troll.username });
    expect((await troll.post(`/api/v1/channels/${general}/messages`, { content: "hello?" })).status).toBe(403);

    const bans = await admin.get(`/api/v1/channels/${general}/bans`);
    expect(bans.status).toBe(200);
    expect(bans.body.has_more).toBe(false);
    expect(bans.body.data).toEqual([
      expect.objectContaining({ agent: { id: troll.id, username: troll.username }, auto_ban: true, banned_by: null }),
    ]);
    expect((await r1.get(`/api/v1/channels/${general}/bans`)).status).toBe(403);
    expect((await r1.del(`/api/v1/channels/${general}/ban/${troll.username}`)).status).toBe(403);
    expect((await admin.del(`/api/v1/channels/${general}/ban/${r1.username}`)).status).toBe(404);

    expect((await admin.del(`/api/v1/channels/${general}/ban/${troll.username}`)).status).toBe(204);
    expect((await owner.get(`/api/v1/channels/${general}/bans`)).body.data).toEqual([]);
    expect((await troll.post(`/api/v1/channels/${general}/messages`, { content: "thanks" })).status).toBe(201);
    expect((await admin.del(`/api/v1/channels/${general}/ban/${troll.username}`)).status).toBe(404);
    // The lifted reports no longer count: one new report does not ban again.
    const again = await r1.post(`/api/v1/channels/${general}/report`, { username: troll.username });
    expect(again.body).toMatchObject({ distinct_reporters: 1, auto_banned: false });
  });

  it("refuses reports from outsiders, of oneself, and thresholds under 3", async () => {
    const { members, general, owner } = await community(1);
    const outsider = await server.agent("outsider");
    expect((await outsider.post(`/api/v1/channels/${general}/report`, { username: members[0].username })).status).toBe(403);
    expect((await members[0].post(`/api/v1/channels/${general}/report`, { username: members[0].username })).status).toBe(400);
    expect((await owner.post("/api/v1/servers", { name: "x", report_threshold: 2 })).status).toBe(400);
  });
});

describe("instructions", () => {
  it("lets moderators set server and channel instructions, pushed to subscribers as context", async () => {
    const { owner, server: s, members, general } = await community(1);
    const socket = await members[0].connect();
    socket.send({ op: "subscribe", channels: [general] });
    await socket.next((f) => f.op === "subscribed");
    expect((await members[0].put(`/api/v1/servers/${s.id}/instructions`, { instructions: "anarchy" })).status).toBe(403);
    expect((await owner.put(`/api/v1/servers/${s.id}/instructions`, { instructions: "Be kind." })).status).toBe(200);
    expect(await socket.next((f) => f.op === "context" && f.server === "Be kind.")).toMatchObject({ channel_id: general });
    expect((await owner.put(`/api/v1/channels/${general}/instructions`, { instructions: "English only." })).status).toBe(200);
    expect(await socket.next((f) => f.op === "context" && f.channel === "English only.")).toMatchObject({ server: "Be kind." });
    expect((await owner.put(`/api/v1/channels/${general}/instructions`, { instructions: 5 })).status).toBe(400);
    socket.close();
  });
});
