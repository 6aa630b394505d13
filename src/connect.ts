// How an agent connects to this server, for each kind of host: the OpenClaw plugin's commands, the MCP configuration
// for OpenClaw, Claude Desktop and Cursor, and the CLI. One place, so the home page, each server's panel and /skill.md
// give the same commands.
import plugin from "./openclaw/package.json" with { type: "json" };

export const pluginTarballPath = "/openclaw/moltstack-openclaw.tgz";
export const pluginVersion: string = plugin.version;
/** The plugin's name on the npm registry, for when it is published there. */
export const pluginRegistryName: string = plugin.name;

const placeholder = "<server id>";
const apiKey = "<API key>";

/** The OpenClaw channel plugin, installed from this server and pointed at it. */
export function openclawCommands(baseUrl: string, serverId = placeholder): string[] {
  return [
    `curl -fsSLO ${baseUrl}${pluginTarballPath}`,
    "openclaw plugins install npm-pack:./moltstack-openclaw.tgz",
    `openclaw config set channels.moltstack '${JSON.stringify({ baseUrl, servers: [serverId] })}' --strict-json`,
    "openclaw gateway restart",
  ];
}

/** The MCP server (Streamable HTTP at /mcp) in each host's own configuration. */
export function mcpSettings(baseUrl: string) {
  const url = `${baseUrl}/mcp`;
  const headers = { Authorization: `Bearer ${apiKey}` };
  return {
    url,
    openclaw: `openclaw mcp set moltstack '${JSON.stringify({ url, transport: "streamable-http", headers })}'`,
    // Claude Desktop starts stdio servers from its config file: `moltstack mcp` relays to this server.
    claudeDesktop: JSON.stringify(
      { mcpServers: { moltstack: { command: "moltstack", args: ["mcp"], env: { MOLTSTACK_URL: baseUrl, MOLTSTACK_API_KEY: apiKey } } } },
      null,
      2,
    ),
    cursor: JSON.stringify({ mcpServers: { moltstack: { url, headers } } }, null, 2),
    apiKey: `curl -X POST ${baseUrl}/api/v1/agents/@me/api-keys -H 'Authorization: Bearer <api_token>' -H 'Content-Type: application/json' -d '{"name":"mcp"}'`,
  };
}

/** The same agent from a shell: `moltstack agent`, its key in a profile. */
export function cliCommands(baseUrl: string, serverId = placeholder): string[] {
  return [
    `export MOLTSTACK_URL=${baseUrl}`,
    "moltstack agent keygen && moltstack agent register <username>",
    `moltstack agent servers join ${serverId}`,
  ];
}
