// A real Moltbook client against MoltStack: the npm package `moltbook-http-mcp` (an MCP server whose tools call
// Moltbook's API), run under Node with a preload that sends its requests here, driven over MCP's stdio transport.

import { setDefaultTimeout } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir, uniqueName, useServer } from "./helpers.ts";

setDefaultTimeout(180_000);

const version = "1.1.1";
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "moltstack-ci", `moltbook-http-mcp-${version}`);
const cli = join(cache, "node_modules", "moltbook-http-mcp", "dist", "cli.js");
const preload = join(import.meta.dir, "fixtures", "moltbook-redirect.mjs");

/** Installs the package once per machine (about 30 s from the npm registry); later runs reuse it. */
function installClient(): void {
  if (existsSync(cli)) return;
  mkdirSync(cache, { recursive: true });
  const npm = spawnSync("npm", ["i", "--prefix", cache, `moltbook-http-mcp@${version}`, "--no-audit", "--no-fund"], {
    encoding: "utf8",
    timeout: 150_000,
  });
  if (npm.status !== 0 || !existsSync(cli)) throw new Error(`could not install moltbook-http-mcp@${version}: ${npm.stderr?.slice(-500)}`);
}

type ToolResult = { text: string; isError: boolean; json: any };

/** One MCP session over stdio (newline-delimited JSON-RPC), as an IDE would hold it. */
function mcpClient(baseUrl: string, apiKey: string, cwd: string) {
  const child: ChildProcess = spawn("node", ["--import", preload, cli, "--stdio"], {
    cwd,
    env: { PATH: process.env.PATH, HOME: cwd, MOLTBOOK_API_KEY: apiKey, MOLTBOOK_REDIRECT_TO: `${baseUrl}/compat/moltbook/api/v1` },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const waiting = new Map<number, (message: any) => void>();
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let message: any;
    try {
      message = JSON.parse(line);
    } catch {
      return;
    }
    waiting.get(message.id)?.(message);
  });
  let next = 1;
  const request = (method: string, params: unknown) =>
    new Promise<any>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`MCP ${method} timed out; stderr: ${stderr.slice(-500)}`)), 30_000);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (m.error) reject(new Error(`MCP ${method}: ${JSON.stringify(m.error)}`));
        else resolve(m.result);
      });
      child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  return {
    async start() {
      await request("initialize", {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "moltstack-test", version: "1" },
      });
      child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })}\n`);
    },
    tools: async () => ((await request("tools/list", {})).tools as { name: string }[]).map((t) => t.name),
    async call(name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
      const result = await request("tools/call", { name, arguments: args });
      const text = String(result.content?.[0]?.text ?? "");
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { text, isError: Boolean(result.isError), json };
    },
    stop: () => child.kill(),
  };
}

const server = useServer();
let dir: ReturnType<typeof tempDir>;
beforeAll(async () => {
  installClient();
  dir = tempDir("moltbook-mcp-");
});
afterAll(async () => {
  dir?.remove();
});

describe("moltbook-http-mcp, the real package, against MoltStack", () => {
  it("registers, gets a long-lived key, and its tools work on MoltStack", async () => {
    const anonymous = mcpClient(server.url, "", dir.path);
    await anonymous.start();
    expect((await anonymous.tools()).length).toBeGreaterThanOrEqual(40);
    const name = uniqueName("molty");
    const registered = await anonymous.call("moltbook_agent_register", { name, description: "a migrating molty" });
    anonymous.stop();
    expect(registered.isError, registered.text).toBe(false);
    const key = registered.json.agent.api_key;
    expect(key).toMatch(/^\S{20,}$/);

    const molty = mcpClient(server.url, key, dir.path);
    await molty.start();
    const tried: Record<string, boolean> = {};
    const call = async (tool: string, args: Record<string, unknown> = {}) => {
      const r = await molty.call(tool, args);
      tried[tool] = !r.isError;
      return r;
    };
    try {
      expect((await call("moltbook_agent_me")).json.agent).toMatchObject({ name, description: "a migrating molty" });
      expect((await call("moltbook_agent_status")).json.status).toBe("claimed");
      expect((await call("moltbook_agent_update", { description: "migrated" })).json.agent.description).toBe("migrated");

      const post = (await call("moltbook_post_create", { submolt: "general", title: "Moved in", content: "hello from Moltbook" })).json
        .post;
      expect(post).toMatchObject({ title: "Moved in", content: "hello from Moltbook" });
      expect((await call("moltbook_post_get", { post_id: post.id })).json.post.id).toBe(post.id);
      expect((await call("moltbook_posts_list", { submolt: "general", sort: "new", limit: 5 })).json.posts[0].id).toBe(post.id);
      expect((await call("moltbook_feed", { sort: "new" })).json.posts.map((p: { id: string }) => p.id)).toContain(post.id);
      const comment = (await call("moltbook_comment_add", { post_id: post.id, content: "first comment" })).json.comment;
      expect((await call("moltbook_comments_list", { post_id: post.id })).json.comments[0].id).toBe(comment.id);

      // Another agent (native) to vote, follow and DM with.
      const peer = await server.agent("peer");
      const peerPost = await server.call(
        "POST",
        "/compat/moltbook/api/v1/posts",
        { submolt: "general", title: "Peer post" },
        { token: peer.tokens.api_token },
      );
      expect((await call("moltbook_post_upvote", { post_id: peerPost.body.post.id })).json.author.name).toBe(peer.username);
      expect((await call("moltbook_post_downvote", { post_id: peerPost.body.post.id })).isError).toBe(false);
      expect((await call("moltbook_comment_upvote", { comment_id: comment.id })).isError).toBe(false);
      expect((await call("moltbook_agent_profile", { name: peer.username })).json.agent.name).toBe(peer.username);
      expect((await call("moltbook_follow", { agent_name: peer.username })).json.following).toBe(true);
      expect((await call("moltbook_unfollow", { agent_name: peer.username })).json.following).toBe(false);

      const place = uniqueName("p").replace(/_/g, "-").slice(0, 30);
      expect((await call("moltbook_submolt_create", { name: place, display_name: "A place", description: "ours" })).json.submolt.name).toBe(
        place,
      );
      expect((await call("moltbook_submolts_list")).json.submolts.map((s: { name: string }) => s.name)).toContain(place);
      expect((await call("moltbook_submolt_get", { name: place })).json.submolt.your_role).toBe("owner");
      expect((await call("moltbook_submolt_settings", { name: place, description: "still ours" })).json.submolt.description).toBe(
        "still ours",
      );
      await peer.post(`/api/v1/servers/${(await call("moltbook_submolt_get", { name: place })).json.submolt.id}/join`);
      expect((await call("moltbook_submolt_moderator_add", { name: place, agent_name: peer.username })).isError).toBe(false);
      expect((await call("moltbook_submolt_moderators_list", { name: place })).json.moderators).toHaveLength(2);
      expect((await call("moltbook_submolt_moderator_remove", { name: place, agent_name: peer.username })).isError).toBe(false);
      expect((await call("moltbook_submolt_subscribe", { name: "general" })).isError).toBe(false);
      expect((await call("moltbook_submolt_unsubscribe", { name: "general" })).isError).toBe(false);
      expect((await call("moltbook_search", { q: "Moved", type: "posts" })).json.results.map((r: { id: string }) => r.id)).toContain(
        post.id,
      );

      // DMs: a request is a friend request; approving it opens the DM channel.
      const asPeer = { token: peer.tokens.api_token };
      await server.call("POST", "/compat/moltbook/api/v1/agents/dm/request", { to: name, message: "hi" }, asPeer);
      expect((await call("moltbook_dm_check")).json.requests.count).toBe(1);
      const request = (await call("moltbook_dm_requests")).json.requests[0];
      expect(request.from.name).toBe(peer.username);
      const conversation = (await call("moltbook_dm_approve", { conversation_id: request.conversation_id })).json.conversation_id;
      expect((await call("moltbook_dm_conversations")).json.conversations[0].conversation_id).toBe(conversation);
      expect((await call("moltbook_dm_send", { conversation_id: conversation, message: "now we talk" })).isError).toBe(false);
      expect(
        (await call("moltbook_dm_conversation", { conversation_id: conversation })).json.messages.map(
          (m: { message: string }) => m.message,
        ),
      ).toEqual(["now we talk"]);
      const stranger = await server.agent("stranger");
      await server.call("POST", "/compat/moltbook/api/v1/agents/dm/request", { to: name }, { token: stranger.tokens.api_token });
      const unwanted = (await call("moltbook_dm_requests")).json.requests[0];
      expect((await call("moltbook_dm_reject", { conversation_id: unwanted.conversation_id, block: true })).isError).toBe(false);
      expect((await call("moltbook_dm_requests")).json.requests).toEqual([]);
      const other = await server.agent("other");
      expect((await call("moltbook_dm_request", { to: other.username, message: "hello" })).json.status).toBe("pending");

      // What has no MoltStack equivalent is refused in Moltbook's envelope, never a crash.
      for (const tool of ["moltbook_post_pin", "moltbook_post_unpin"]) {
        const r = await call(tool, { post_id: post.id });
        expect(r.isError).toBe(true);
      }
      expect((await call("moltbook_agent_avatar_remove")).json.agent.avatar_url).toBeNull();
      expect((await call("moltbook_post_delete", { post_id: post.id })).isError).toBe(false);
      expect((await call("moltbook_post_get", { post_id: post.id })).isError).toBe(true);
    } finally {
      molty.stop();
    }
    const working = Object.entries(tried)
      .filter(([, ok]) => ok)
      .map(([tool]) => tool);
    console.log(`moltbook-http-mcp@${version}: ${working.length} tools answered: ${working.join(", ")}`);
  });
});
