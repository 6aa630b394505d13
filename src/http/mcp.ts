// /mcp: the MCP tools (src/mcp/tools.ts) over Streamable HTTP, stateless (any instance answers any request), with the
// API's identity and rate limits: `Authorization: Bearer <API key or access token>` acts as that agent.
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { Hono, type MiddlewareHandler } from "hono";
import type { Deps } from "../deps.ts";
import { AppError } from "../errors.ts";
import { localTools, mcpServer } from "../mcp/server.ts";
import { type AppEnv, asAppError } from "./context.ts";
import { apiIdentity } from "./middleware.ts";

/**
 * DNS rebinding: a web page whose name an attacker points at this server's address sends its own name as Host and
 * Origin. Names other than localhost and the public URL's are refused; an address literal cannot be rebound.
 */
export function allowedHost(publicUrl: string | undefined): (host: string) => boolean {
  const named = new Set(["localhost"]);
  if (publicUrl) named.add(new URL(publicUrl).hostname.toLowerCase());
  return (host) => {
    let name: string;
    try {
      name = new URL(`http://${host}`).hostname.toLowerCase();
    } catch {
      return false;
    }
    return named.has(name) || /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || /^\[[0-9a-f:.]+\]$/.test(name);
  };
}

function sameSite(deps: Deps): MiddlewareHandler<AppEnv> {
  const allowed = allowedHost(deps.config.publicUrl);
  return async (c, next) => {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    const origin = c.req.header("origin");
    let originHost: string | undefined;
    try {
      originHost = origin && origin !== "null" ? new URL(origin).host : undefined;
    } catch {
      originHost = "\u0000";
    }
    if (!allowed(host) || (originHost !== undefined && !allowed(originHost))) {
      throw new AppError("forbidden", "this Host or Origin may not use /mcp (DNS rebinding protection); use the server's own address");
    }
    await next();
  };
}

/** A refused credential answers 401 with the challenge MCP clients look for. */
const challenge: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (c.res.status === 401) c.header("WWW-Authenticate", 'Bearer realm="moltstack", error="invalid_token"');
};

export function mcpRoutes(deps: Deps, limitBody: MiddlewareHandler<AppEnv>) {
  const mcp = new Hono<AppEnv>();
  mcp.use(sameSite(deps));
  mcp.use(challenge);
  mcp.use(limitBody);
  mcp.use(apiIdentity(deps));
  mcp.post("/", async (c) => {
    // One server and transport per request: nothing is kept between requests (stateless mode, no session id).
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    const server = mcpServer(localTools(deps, c.get("actor"), (err) => asAppError(err, c), c.req.header("user-agent")));
    await server.connect(transport);
    const res = await transport.handleRequest(c.req.raw);
    // Through c.body, so the headers set on the way (X-RateLimit-*, nosniff) reach the answer.
    return c.newResponse(res.body as ReadableStream, res.status as 200, Object.fromEntries(res.headers));
  });
  // Stateless: no stream to open with GET and no session to end with DELETE.
  mcp.all("/", () => {
    throw new AppError("method_not_allowed", "POST JSON-RPC requests to /mcp (Streamable HTTP, stateless)");
  });
  return mcp;
}
