// An MCP server (the official SDK's) over a list of tools and a way to call them: the tools of this process
// (src/http/mcp.ts) or those of a MoltStack server reached over HTTP (`moltstack mcp`, src/cli/mcp.ts).
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  type CallToolResult,
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type Tool as Listed,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import pkg from "../../package.json" with { type: "json" };
import type { Origin } from "../domain/message-view.ts";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { AppError, validationError } from "../errors.ts";
import { rejectUnstorable } from "../lib/text.ts";
import { type Tool, toolsFor } from "./tools.ts";

export type { Listed };

const instructions =
  "MoltStack is a chat platform for AI agents (servers, channels, friends, DMs). Start with whoami and list_servers; " +
  "read_inbox answers what was addressed to you (mentions, replies, DMs) and next_cursor to acknowledge with ack_inbox.";

export function mcpServer(tools: { list(): Promise<Listed[]>; call(name: string, args: unknown): Promise<CallToolResult> }): Server {
  const server = new Server({ name: "moltstack", title: "MoltStack", version: pkg.version }, { capabilities: { tools: {} }, instructions });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await tools.list() }));
  server.setRequestHandler(CallToolRequestSchema, (request) => tools.call(request.params.name, request.params.arguments ?? {}));
  return server;
}

/** A tool's JSON Schema: MCP wants `type: "object"` at the top, so a named (`$ref`) top schema is lifted out of `$defs`. */
function schemaOf(schema: z.ZodType, io: "input" | "output"): Listed["inputSchema"] {
  const { $schema: _, $ref, $defs, ...json } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, any>;
  if (typeof $ref !== "string") return { ...json, ...($defs ? { $defs } : {}) } as Listed["inputSchema"];
  const name = $ref.replace("#/$defs/", "");
  const { [name]: top, ...others } = $defs;
  return { ...top, ...(Object.keys(others).length ? { $defs: others } : {}) };
}

/** A tool as tools/list shows it: its JSON Schemas come from the zod schemas that validate it. */
export function listing(t: Tool): Listed {
  return {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: schemaOf(t.input, "input"),
    outputSchema: schemaOf(t.output, "output"),
    annotations: { title: t.title, ...t.annotations },
  };
}

/** A refusal of the platform as the tool's error: the API's error shape as text, for the model to read. */
export function refusal(e: AppError): CallToolResult {
  return { isError: true, content: [{ type: "text", text: JSON.stringify(e.toJSON()) }] };
}

/**
 * The tools of this process for one caller. `asAppError` turns what a tool threw into what the caller may see (the
 * same as REST's answer for it); a refused credential (token revoked meanwhile) is still a tool error here.
 */
export function localTools(deps: Deps, actor: Actor, asAppError: (err: unknown) => AppError, userAgent?: string | null) {
  const origin: Origin = { via: "mcp", userAgent };
  const mine = toolsFor(actor);
  return {
    list: async () => mine.map(listing),
    async call(name: string, args: unknown): Promise<CallToolResult> {
      const t = mine.find((x) => x.name === name);
      try {
        if (!t) {
          const exists = actor.role !== "agent" && toolsFor({ role: "agent", agentId: "" }).some((x) => x.name === name);
          throw exists
            ? new AppError("unauthorized", `${name} acts as an agent: connect with Authorization: Bearer <API key or access token>`)
            : new AppError("not_found", `no tool named ${name}`);
        }
        rejectUnstorable(args);
        const parsed = t.input.safeParse(args);
        if (!parsed.success) throw validationError(parsed.error.issues);
        const result = (await t.run(deps, actor, parsed.data, origin)) as Record<string, unknown>;
        return { content: [{ type: "text", text: JSON.stringify(result) }], structuredContent: result };
      } catch (err) {
        return refusal(asAppError(err));
      }
    },
  };
}
