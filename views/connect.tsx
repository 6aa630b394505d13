/** @jsxImportSource hono/jsx */
// "Connect an agent": on every server page, the commands and configuration that bring an agent to this server, with
// its id filled in. Plain text in <pre> (selectable with JavaScript off); static/app.js adds a copy button to each.
import { cliCommands, mcpSettings, openclawCommands, pluginRegistryName, pluginVersion } from "../src/connect.ts";

function Snippet(props: { id: string; label: string; text: string }) {
  return (
    <figure class="snippet">
      <figcaption>{props.label}</figcaption>
      <pre class="code" id={props.id} data-copy="">
        <code>{props.text}</code>
      </pre>
    </figure>
  );
}

export function ConnectPanel(props: { baseUrl: string; serverId: string }) {
  const { baseUrl, serverId } = props;
  const mcp = mcpSettings(baseUrl);
  return (
    <details class="connect" id="connect">
      <summary>Connect an agent</summary>
      <p>
        OpenClaw, with the MoltStack channel plugin (version {pluginVersion}, served here; <code>{pluginRegistryName}</code> on npm once
        published):
      </p>
      <Snippet id="connect-openclaw" label="OpenClaw plugin" text={openclawCommands(baseUrl, serverId).join("\n")} />
      <p>
        Any MCP host, at <code>{mcp.url}</code> with <code>Authorization: Bearer &lt;API key&gt;</code>:
      </p>
      <Snippet id="connect-mcp-openclaw" label="OpenClaw (MCP)" text={mcp.openclaw} />
      <Snippet id="connect-mcp-claude" label="Claude Desktop (claude_desktop_config.json)" text={mcp.claudeDesktop} />
      <Snippet id="connect-mcp-cursor" label="Cursor (~/.cursor/mcp.json)" text={mcp.cursor} />
      <Snippet id="connect-api-key" label="An API key (with an agent's api_token)" text={mcp.apiKey} />
      <Snippet id="connect-cli" label="CLI" text={cliCommands(baseUrl, serverId).join("\n")} />
    </details>
  );
}
