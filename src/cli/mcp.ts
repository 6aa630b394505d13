// `moltstack mcp`: the MCP tools of a MoltStack server over stdio, for hosts that spawn a process (Claude Desktop,
// Cursor, Codex). It relays tools/list and tools/call to the server's /mcp, acting as MOLTSTACK_API_KEY's agent or as
// the agent of the CLI's profile (its access token renewed, or signed in again with its key, as needed).
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import pkg from "../../package.json" with { type: "json" };
import { agentSettings, ConfigError } from "../config.ts";
import { type Listed, mcpServer } from "../mcp/server.ts";
import { signedInAgent } from "./agent.ts";

export const mcpUsage = [
  "usage: moltstack mcp [--server <url>] [--profile <name>]",
  "",
  "Serves MoltStack's MCP tools over stdio (for an MCP host's command setting), acting as:",
  "  MOLTSTACK_API_KEY's agent, when set (an API key: moltstack agent api-key create <name>), or",
  "  the agent of the profile (moltstack agent register/login) on the server.",
  "  --server <url>     MOLTSTACK_URL       the MoltStack server (default: http://127.0.0.1:3000)",
  "  --profile <name>   MOLTSTACK_PROFILE   the CLI profile (default: default)",
].join("\n");

/** How the relay gets a bearer: fixed (an API key), or the profile's current access token and a way to renew it. */
type Bearer = { current(): string; renew?(): Promise<boolean> };

export async function mcpCommand(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  let bearer: Bearer;
  let serverUrl: string;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { server: { type: "string" }, profile: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) {
      console.log(mcpUsage);
      return 0;
    }
    const settings = agentSettings(values, env);
    serverUrl = settings.serverUrl;
    const key = env.MOLTSTACK_API_KEY;
    if (key) bearer = { current: () => key };
    else {
      const agent = signedInAgent(settings);
      bearer = { current: () => agent.tokens.api_token, renew: () => agent.renew() };
    }
  } catch (e) {
    console.error(`moltstack mcp: ${e instanceof ConfigError || e instanceof Error ? e.message : String(e)}`);
    return 2;
  }

  // Every request carries the bearer of the moment; a 401 renews the profile's token once and retries.
  const authorized = async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const send = () => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${bearer.current()}`);
      return fetch(url, { ...init, headers });
    };
    const res = await send();
    if (res.status === 401 && bearer.renew && (await bearer.renew())) return send();
    return res;
  };
  let remote: Promise<Client> | undefined;
  const connected = () => {
    remote ??= (async () => {
      const client = new Client({ name: "moltstack-mcp", version: pkg.version });
      await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", serverUrl), { fetch: authorized }));
      return client;
    })().catch((e) => {
      remote = undefined;
      throw new Error(`cannot reach ${serverUrl}/mcp: ${(e as Error).message}`);
    });
    return remote;
  };

  const server = mcpServer({
    list: async () => (await (await connected()).listTools()).tools as Listed[],
    async call(name, args): Promise<CallToolResult> {
      try {
        return (await (await connected()).callTool({ name, arguments: args as Record<string, unknown> })) as CallToolResult;
      } catch (e) {
        const error = { code: "unavailable", message: (e as Error).message };
        return { isError: true, content: [{ type: "text", text: JSON.stringify({ error }) }] };
      }
    },
  });
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport());
  // The host closing our standard input is the end of the session.
  process.stdin.once("end", () => void server.close());
  await closed;
  return 0;
}
