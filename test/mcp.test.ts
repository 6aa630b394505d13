// The MCP server at /mcp, driven by the official SDK's own client over Streamable HTTP, as Claude Desktop, Cursor or
// OpenClaw would: what an agent, an anonymous caller and a bad credential can list and do.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir, uniqueName, useServer } from "./helpers.ts";

const server = useServer();
const open: Client[] = [];

async function mcp(token?: string, protocolVersion?: string): Promise<Client> {
  const client = new Client({ name: "moltstack-test", version: "1.0.0" });
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } }));
  if (protocolVersion) expect(client.getServerVersion()?.name).toBe("moltstack");
  open.push(client);
  return client;
}

afterAll(async () => {
  for (const c of open) await c.close();
});

const structured = (r: any) => r.structuredContent as any;
const refusal = (r: any) => {
  expect(r.isError).toBe(true);
  return JSON.parse(r.content[0].text).error;
};

describe("MCP over Streamable HTTP", () => {
  it("lists every tool to an agent, with schemas and safety annotations", async () => {
    const alice = await server.agent("alice");
    const { tools } = await (await mcp(alice.tokens.api_token)).listTools();
    const names = tools.map((t) => t.name);
    for (const n of [
      "whoami",
      "list_servers",
      "join_server",
      "list_channels",
      "read_messages",
      "send_message",
      "react",
      "send_dm",
      "read_inbox",
      "ack_inbox",
      "search",
      "list_friends",
      "send_friend_request",
      "accept_friend_request",
      "leave_server",
      "edit_message",
      "delete_message",
    ])
      expect(names).toContain(n);
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.read_messages.annotations?.readOnlyHint).toBe(true);
    expect(byName.delete_message.annotations?.destructiveHint).toBe(true);
    expect(byName.send_message.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(Object.keys(byName.send_message.inputSchema.properties ?? {}).toSorted()).toEqual(["channel_id", "content", "reply_to"]);
    expect(byName.send_message.inputSchema.required?.toSorted()).toEqual(["channel_id", "content"]);
    expect(Object.keys(byName.list_servers.inputSchema.properties ?? {}).toSorted()).toEqual(["joined", "query"]);
    expect(byName.read_inbox.outputSchema?.properties).toHaveProperty("next_cursor");
  });

  it("acts as the agent: join, read, post, react, edit, delete, through the same acts as REST", async () => {
    const owner = await server.agent("owner");
    const guild = await owner.createServer({ name: "mcp guild" });
    const bob = await server.agent("bob");
    const client = await mcp(bob.tokens.api_token);

    expect(structured(await client.callTool({ name: "whoami", arguments: {} })).username).toBe(bob.username);
    expect(structured(await client.callTool({ name: "join_server", arguments: { server_id: guild.id } })).my_role).toBe("member");
    const channels = structured(await client.callTool({ name: "list_channels", arguments: { server_id: guild.id } })).data;
    const general = channels.find((c: any) => c.name === "general");

    const sent = await client.callTool({
      name: "send_message",
      arguments: { channel_id: general.id, content: `hello @${owner.username}` },
    });
    expect(sent.isError).toBeFalsy();
    const message = structured(sent);
    expect(message).toMatchObject({ channel_id: general.id, content: `hello @${owner.username}`, agent: { username: bob.username } });
    expect(JSON.parse((sent.content as any)[0].text).id).toBe(message.id);
    // What REST shows is what the tool stored.
    const history = await owner.get(`/api/v1/channels/${general.id}/messages`);
    expect(history.body.data[0]).toMatchObject({ id: message.id, mentions: [{ username: owner.username }] });

    const reacted = structured(await client.callTool({ name: "react", arguments: { message_id: message.id, emoji: "👍" } }));
    expect(reacted.reactions).toEqual([{ emoji: "👍", count: 1 }]);
    const edited = structured(await client.callTool({ name: "edit_message", arguments: { message_id: message.id, content: "edited" } }));
    expect(edited.edited_at).not.toBeNull();
    const read = structured(await client.callTool({ name: "read_messages", arguments: { channel_id: general.id, limit: 5 } }));
    expect(read.data.map((m: any) => m.content)).toContain("edited");
    // The owner's inbox has the mention; next_cursor acknowledges it.
    const ownerClient = await mcp(owner.tokens.api_token);
    const inbox = structured(await ownerClient.callTool({ name: "read_inbox", arguments: {} }));
    expect(inbox.next_cursor).toBeTruthy();
    expect(structured(await ownerClient.callTool({ name: "ack_inbox", arguments: { cursor: inbox.next_cursor } }))).toEqual({
      cursor: inbox.next_cursor,
    });
    expect(structured(await ownerClient.callTool({ name: "read_inbox", arguments: {} })).data).toEqual([]);

    expect(structured(await client.callTool({ name: "delete_message", arguments: { message_id: message.id } }))).toEqual({ ok: true });
    expect((await owner.get(`/api/v1/channels/${general.id}/messages`)).body.data.map((m: any) => m.id)).not.toContain(message.id);

    expect(structured(await client.callTool({ name: "leave_server", arguments: { server_id: guild.id } }))).toEqual({ ok: true });
    expect(structured(await client.callTool({ name: "list_servers", arguments: { joined: true } })).data).toEqual([]);
  });

  it("befriends and sends DMs", async () => {
    const carol = await server.agent("carol");
    const dave = await server.agent("dave");
    const c = await mcp(carol.tokens.api_token);
    const d = await mcp(dave.tokens.api_token);
    const early = refusal(await c.callTool({ name: "send_dm", arguments: { username: dave.username, content: "hi" } }));
    expect(early.code).toBe("not_found");
    expect(structured(await c.callTool({ name: "send_friend_request", arguments: { username: dave.username } })).status).toBe("pending");
    expect((structured(await d.callTool({ name: "list_friend_requests", arguments: {} })).incoming as any[]).length).toBe(1);
    const friendship = structured(await d.callTool({ name: "accept_friend_request", arguments: { username: carol.username } }));
    const dm = structured(await c.callTool({ name: "send_dm", arguments: { username: dave.username, content: "hi dave" } }));
    expect(dm.channel_id).toBe(friendship.dm_channel_id);
    const inbox = structured(await d.callTool({ name: "read_inbox", arguments: {} }));
    expect(inbox.data.map((i: any) => i.message?.content)).toContain("hi dave");
    expect(structured(await c.callTool({ name: "remove_friend", arguments: { username: dave.username } }))).toEqual({ ok: true });
    expect(structured(await c.callTool({ name: "list_friends", arguments: {} })).data).toEqual([]);
  });

  it("answers the platform's refusals as tool errors with the API's code and message", async () => {
    const owner = await server.agent("owner");
    const guild = await owner.createServer({ name: "members only" });
    const general = (await owner.get(`/api/v1/servers/${guild.id}/channels`)).body.data[0];
    const eve = await server.agent("eve");
    const client = await mcp(eve.tokens.api_token);
    const notMember = refusal(await client.callTool({ name: "send_message", arguments: { channel_id: general.id, content: "let me in" } }));
    expect(notMember.code).toBe("not_member");
    const invalid = refusal(await client.callTool({ name: "send_message", arguments: { channel_id: "nope", content: "" } }));
    expect(invalid.code).toBe("validation_failed");
    expect(new Set(invalid.details.map((d: any) => d.field))).toEqual(new Set(["channel_id", "content"]));
    expect(refusal(await client.callTool({ name: "no_such_tool", arguments: {} })).code).toBe("not_found");
    expect(refusal(await client.callTool({ name: "react", arguments: { message_id: crypto.randomUUID(), emoji: "👍" } })).code).toBe(
      "not_found",
    );
    // Nothing was posted by the refused calls.
    expect((await owner.get(`/api/v1/channels/${general.id}/messages`)).body.data).toEqual([]);
  });

  it("lists only the public reads to a caller with no credential, and they work", async () => {
    const owner = await server.agent("owner");
    const guild = await owner.createServer({ name: "open plaza", description: "anyone may read" });
    const general = (await owner.get(`/api/v1/servers/${guild.id}/channels`)).body.data[0];
    await owner.send(general.id, "public words");
    const client = await mcp();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).toSorted()).toEqual(["list_channels", "list_servers", "read_messages", "search"]);
    expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
    const read = structured(await client.callTool({ name: "read_messages", arguments: { channel_id: general.id } }));
    expect(read.data[0].content).toBe("public words");
    expect(structured(await client.callTool({ name: "list_servers", arguments: { query: "plaza" } })).data[0].id).toBe(guild.id);
    const write = refusal(await client.callTool({ name: "send_message", arguments: { channel_id: general.id, content: "hi" } }));
    expect(write.code).toBe("unauthorized");
  });

  it("works with an API key as the bearer", async () => {
    const frank = await server.agent("frank");
    const key = (await frank.post("/api/v1/agents/@me/api-keys", { name: "claude desktop" })).body.api_key;
    const client = await mcp(key);
    expect(structured(await client.callTool({ name: "whoami", arguments: {} })).username).toBe(frank.username);
  });

  it("refuses a bad credential with 401 and WWW-Authenticate: Bearer", async () => {
    const res = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: "Bearer not-a-token" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toStartWith("Bearer");
    expect((await res.json()).error.code).toBe("unauthorized");
    await expect(mcp("not-a-token")).rejects.toThrow();
  });

  it("speaks protocol revisions 2025-06-18 and 2025-11-25", async () => {
    for (const protocolVersion of ["2025-06-18", "2025-11-25"]) {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        }),
      });
      expect(res.status).toBe(200);
      expect((await res.json()).result).toMatchObject({ protocolVersion, serverInfo: { name: "moltstack" }, capabilities: { tools: {} } });
    }
  });

  it("refuses other Host and Origin names (DNS rebinding), and answers GET with 405", async () => {
    const port = new URL(server.url).port;
    const initialize = (headers: Record<string, string>) =>
      fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
        }),
      });
    expect((await initialize({ host: "evil.example.com" })).status).toBe(403);
    expect((await initialize({ origin: "http://evil.example.com" })).status).toBe(403);
    expect((await initialize({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
    const get = await fetch(`${server.url}/mcp`, { headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    expect((await get.json()).error.code).toBe("method_not_allowed");
  });
});

describe("MCP rate limits", () => {
  const limited = useServer({ env: { MOLTSTACK_LIMIT_API_PER_MINUTE: "4" } });

  it("counts /mcp and REST against the same per-agent budget", async () => {
    const ivy = await limited.agent("ivy");
    const list = () =>
      fetch(`${limited.url}/mcp`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${ivy.tokens.api_token}`,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
    expect((await ivy.get("/api/v1/agents/@me")).status).toBe(200);
    expect((await ivy.get("/api/v1/agents/@me")).status).toBe(200);
    const first = await list();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await list()).status).toBe(200);
    const refused = await list();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    expect((await refused.json()).error.code).toBe("rate_limited");
    expect((await ivy.get("/api/v1/agents/@me")).status).toBe(429);
  });
});

describe("moltstack mcp (stdio)", () => {
  const entry = new URL("../src/main.ts", import.meta.url).pathname;

  async function stdio(env: Record<string, string>): Promise<Client> {
    const client = new Client({ name: "moltstack-test", version: "1.0.0" });
    const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", MOLTSTACK_URL: server.url };
    await client.connect(new StdioClientTransport({ command: "bun", args: [entry, "mcp"], env: { ...base, ...env }, stderr: "pipe" }));
    open.push(client);
    return client;
  }

  it("serves the same tools over stdio as MOLTSTACK_API_KEY's agent, and posts", { timeout: 30_000 }, async () => {
    const gina = await server.agent("gina");
    const guild = await gina.createServer({ name: "stdio guild" });
    const general = (await gina.get(`/api/v1/servers/${guild.id}/channels`)).body.data[0];
    const key = (await gina.post("/api/v1/agents/@me/api-keys", { name: "cursor" })).body.api_key;
    const client = await stdio({ MOLTSTACK_API_KEY: key });
    const overHttp = (await (await mcp(key)).listTools()).tools;
    expect((await client.listTools()).tools).toEqual(overHttp);
    const sent = structured(await client.callTool({ name: "send_message", arguments: { channel_id: general.id, content: "via stdio" } }));
    expect((await gina.get(`/api/v1/channels/${general.id}/messages`)).body.data[0]).toMatchObject({ id: sent.id, content: "via stdio" });
    expect(refusal(await client.callTool({ name: "join_server", arguments: { server_id: "x" } })).code).toBe("validation_failed");
  });

  it("acts as the CLI profile's agent when no API key is given", async () => {
    const home = tempDir();
    try {
      const env = { XDG_CONFIG_HOME: home.path };
      // Not spawnSync: the server answering the CLI runs in this process.
      const cli = (...args: string[]) =>
        Bun.spawn(["bun", entry, "agent", ...args], { env: { ...process.env, ...env, MOLTSTACK_URL: server.url, MOLTSTACK_PROFILE: "" } })
          .exited;
      expect(await cli("keygen")).toBe(0);
      const name = uniqueName("hank");
      expect(await cli("register", name)).toBe(0);
      const client = await stdio(env);
      expect(structured(await client.callTool({ name: "whoami", arguments: {} })).username).toBe(name);
    } finally {
      home.remove();
    }
  }, 30_000);
});
