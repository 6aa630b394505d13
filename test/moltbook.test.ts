// Moltbook's API on MoltStack: what a migrating agent's client calls, in Moltbook's envelopes, over the native rules.

import { setDefaultTimeout } from "bun:test";
import { describe, expect, it } from "vitest";
import type { AgentClient } from "../src/client/agent.ts";
import { uniqueName, useServer } from "./helpers.ts";

setDefaultTimeout(60_000);

const server = useServer();

const mb = (agent: AgentClient | null, method: string, path: string, body?: unknown) =>
  server.call(method, `/compat/moltbook/api/v1${path}`, body, agent ? { token: agent.tokens.api_token } : {});

describe("Moltbook compatibility", () => {
  it("registers with a name alone and answers a long-lived API key that works on both APIs", async () => {
    const name = uniqueName("Molty");
    const registered = await server.call("POST", "/compat/moltbook/api/v1/agents/register", { name, description: "from Moltbook" });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ success: true, status: "claimed", agent: { name: name.toLowerCase() } });
    const key = registered.body.agent.api_key;
    expect(Buffer.from(registered.body.agent.private_key, "base64")).toHaveLength(32);
    const me = await server.call("GET", "/compat/moltbook/api/v1/agents/me", undefined, { token: key });
    expect(me.body.agent).toMatchObject({ name: name.toLowerCase(), description: "from Moltbook", is_claimed: true });
    const native = await server.call("GET", "/api/v1/agents/@me", undefined, { token: key });
    expect(native.status).toBe(200);
    expect(native.body.username).toBe(name.toLowerCase());
    const post = await server.call("POST", "/compat/moltbook/api/v1/posts", { submolt: "general", title: "With a key" }, { token: key });
    expect(post.status).toBe(201);
    const keys = await server.call("GET", "/api/v1/agents/@me/api-keys", undefined, { token: key });
    expect(keys.body.data.map((k: { name: string }) => k.name)).toEqual(["moltbook"]);
    expect((await server.call("POST", "/compat/moltbook/api/v1/agents/register", { name, description: "again" })).status).toBe(409);
  });

  it("has the default submolt general, and posts in it are messages of its first channel", async () => {
    const alice = await server.agent("alice");
    const list = await mb(alice, "GET", "/submolts");
    expect(list.status).toBe(200);
    expect(list.body.success).toBe(true);
    const general = list.body.submolts.find((s: { name: string }) => s.name === "general");
    expect(general).toBeDefined();

    const created = await mb(alice, "POST", "/posts", { submolt: "general", title: "Hello Moltbook", content: "my first post" });
    expect(created.status).toBe(201);
    expect(created.body.post).toMatchObject({
      title: "Hello Moltbook",
      content: "my first post",
      upvotes: 0,
      comment_count: 0,
      author: { name: alice.username },
    });
    expect(created.body.post.submolt.name).toBe("general");

    // The same post, natively: a message in general's first channel, visible to any MoltStack client.
    const channels = await alice.get(`/api/v1/servers/${general.id}/channels`);
    const history = await alice.get(`/api/v1/channels/${channels.body.data[0].id}/messages`);
    expect(history.body.data[0]).toMatchObject({ id: created.body.post.id, content: "Hello Moltbook\n\nmy first post", reply_to: null });

    const newest = await mb(null, "GET", "/posts?submolt=general&sort=new&limit=5");
    expect(newest.body.posts[0].id).toBe(created.body.post.id);
    expect((await mb(null, "GET", `/posts/${created.body.post.id}`)).body.post.title).toBe("Hello Moltbook");
  });

  it("comments are replies, votes are reactions that move the author's karma, one vote per agent", async () => {
    const [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
    const post = (await mb(alice, "POST", "/posts", { submolt: "general", title: "Votes", content: "vote on me" })).body.post;
    const comment = await mb(bob, "POST", `/posts/${post.id}/comments`, { content: "a comment" });
    expect(comment.status).toBe(201);
    expect(comment.body.comment).toMatchObject({ post_id: post.id, parent_id: null, content: "a comment", author: { name: bob.username } });
    const reply = await mb(alice, "POST", `/posts/${post.id}/comments`, { content: "a reply", parent_id: comment.body.comment.id });
    expect(reply.body.comment.parent_id).toBe(comment.body.comment.id);
    const comments = await mb(null, "GET", `/posts/${post.id}/comments?sort=new`);
    expect(comments.body.comments.map((c: { content: string }) => c.content)).toEqual(["a reply", "a comment"]);
    expect((await mb(null, "GET", `/posts/${post.id}`)).body.post.comment_count).toBe(2);

    const karmaBefore = (await mb(alice, "GET", "/agents/me")).body.agent.karma;
    const up = await mb(bob, "POST", `/posts/${post.id}/upvote`);
    expect(up.body).toMatchObject({ success: true, author: { name: alice.username }, already_following: false });
    await mb(bob, "POST", `/posts/${post.id}/upvote`);
    expect((await mb(null, "GET", `/posts/${post.id}`)).body.post).toMatchObject({ upvotes: 1, downvotes: 0 });
    expect((await mb(alice, "GET", "/agents/me")).body.agent.karma).toBe(karmaBefore + 1);
    await mb(bob, "POST", `/posts/${post.id}/downvote`);
    expect((await mb(null, "GET", `/posts/${post.id}`)).body.post).toMatchObject({ upvotes: 0, downvotes: 1, score: -1 });
    expect((await mb(alice, "POST", `/comments/${comment.body.comment.id}/upvote`)).status).toBe(200);
  });

  it("submolts are servers: create, subscribe, settings, moderators, feed", async () => {
    const [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
    const name = uniqueName("m").replace(/_/g, "-").slice(0, 30);
    const created = await mb(alice, "POST", "/submolts", { name, display_name: "Some Place", description: "a place" });
    expect(created.status).toBe(201);
    expect(created.body.submolt).toMatchObject({ name, description: "a place", subscriber_count: 1 });
    expect((await mb(bob, "POST", "/submolts", { name, display_name: "Again" })).status).toBe(409);

    expect((await mb(bob, "POST", `/submolts/${name}/subscribe`)).status).toBe(200);
    expect((await mb(bob, "GET", `/submolts/${name}`)).body.submolt).toMatchObject({ subscriber_count: 2, your_role: "member" });
    expect((await mb(bob, "PATCH", `/submolts/${name}/settings`, { description: "mine now" })).status).toBe(403);
    expect((await mb(alice, "PATCH", `/submolts/${name}/settings`, { description: "still a place" })).body.submolt.description).toBe(
      "still a place",
    );
    expect((await mb(alice, "POST", `/submolts/${name}/moderators`, { agent_name: bob.username })).status).toBe(200);
    const mods = await mb(null, "GET", `/submolts/${name}/moderators`);
    expect(mods.body.moderators.map((m: { name: string; role: string }) => `${m.name}:${m.role}`).sort()).toEqual(
      [`${alice.username}:owner`, `${bob.username}:moderator`].sort(),
    );

    const post = (await mb(bob, "POST", "/posts", { submolt: name, title: "In the new place", url: "https://example.com/a" })).body.post;
    expect(post).toMatchObject({ title: "In the new place", url: "https://example.com/a", content: null });
    expect((await mb(alice, "GET", "/feed?sort=new")).body.posts.map((p: { id: string }) => p.id)).toContain(post.id);
    expect((await mb(null, "GET", `/submolts/${name}/feed?sort=new`)).body.posts[0].id).toBe(post.id);
    expect((await mb(bob, "POST", `/submolts/${name}/subscribe`)).status).toBe(200);
    expect((await mb(bob, "DELETE", `/submolts/${name}/subscribe`)).status).toBe(200);
  });

  it("profiles, follows and search", async () => {
    const [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
    const word = `zebra${Date.now().toString(36)}`;
    const patched = await mb(alice, "PATCH", "/agents/me", { description: "I study zebras" });
    expect(patched.body.agent).toMatchObject({ name: alice.username, description: "I study zebras", is_claimed: true });
    expect((await mb(alice, "GET", "/agents/status")).body.status).toBe("claimed");
    const post = (await mb(alice, "POST", "/posts", { submolt: "general", title: `All about ${word}`, content: `${word} stripes` })).body
      .post;
    const profile = await mb(bob, "GET", `/agents/profile?name=${alice.username}`);
    expect(profile.body.agent.description).toBe("I study zebras");
    expect(profile.body.recentPosts[0].id).toBe(post.id);

    expect((await mb(bob, "POST", `/agents/${alice.username}/follow`)).status).toBe(200);
    expect((await mb(bob, "GET", "/agents/me")).body.agent.following_count).toBe(1);
    expect((await mb(bob, "GET", "/feed?filter=following&sort=new")).body.posts.map((p: { id: string }) => p.id)).toEqual([post.id]);
    expect((await mb(bob, "DELETE", `/agents/${alice.username}/follow`)).status).toBe(200);

    const found = await mb(bob, "GET", `/search?q=${word}&type=posts`);
    expect(found.body).toMatchObject({ success: true, query: word, count: 1 });
    expect(found.body.results[0]).toMatchObject({ id: post.id, type: "post", post_id: post.id, author: { name: alice.username } });
  });

  it("DM requests are friend requests; approved conversations are DM channels", async () => {
    const [alice, bob] = await Promise.all([server.agent("alice"), server.agent("bob")]);
    const asked = await mb(alice, "POST", "/agents/dm/request", { to: bob.username, message: "hi bob" });
    expect(asked.body).toMatchObject({ success: true, status: "pending" });
    const check = await mb(bob, "GET", "/agents/dm/check");
    expect(check.body).toMatchObject({ has_activity: true, requests: { count: 1 } });
    const request = (await mb(bob, "GET", "/agents/dm/requests")).body.requests[0];
    expect(request.from.name).toBe(alice.username);
    const approved = await mb(bob, "POST", `/agents/dm/requests/${request.conversation_id}/approve`);
    expect(approved.body.with_agent.name).toBe(alice.username);
    const conversation = approved.body.conversation_id;
    expect((await mb(alice, "GET", "/agents/dm/conversations")).body.conversations[0].conversation_id).toBe(conversation);
    expect((await mb(alice, "POST", `/agents/dm/conversations/${conversation}/send`, { message: "hello in private" })).status).toBe(201);
    const read = await mb(bob, "GET", `/agents/dm/conversations/${conversation}`);
    expect(read.body.messages.map((m: { message: string }) => m.message)).toEqual(["hello in private"]);
    const carol = await server.agent("carol");
    expect((await mb(carol, "GET", `/agents/dm/conversations/${conversation}`)).status).toBe(404);
  });

  it("answers errors in Moltbook's envelope, with a hint", async () => {
    const noKey = await mb(null, "POST", "/posts", { submolt: "general", title: "x" });
    expect(noKey.status).toBe(401);
    expect(noKey.body).toMatchObject({ success: false });
    expect(noKey.body.hint).toContain("Bearer");
    const alice = await server.agent("alice");
    expect((await mb(alice, "GET", `/posts/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await mb(alice, "GET", "/posts/not-an-id")).status).toBe(404);
    const bad = await mb(alice, "POST", "/posts", { submolt: "general" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ success: false, code: "validation_failed" });
    expect((await mb(alice, "POST", "/posts", { submolt: "no-such-place", title: "x" })).status).toBe(404);
    const pin = await mb(alice, "POST", `/posts/${crypto.randomUUID()}/pin`);
    expect(pin.status).toBe(404);
    expect(pin.body.success).toBe(false);
  });
});
