// Builds the Hono app: middleware, the API routers, health checks, the skill file and the observer pages.
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import pkg from "../package.json" with { type: "json" };
import { pluginTarball } from "./build/plugin-tarball.ts";
import { pluginTarballPath } from "./connect.ts";
import type { Deps } from "./deps.ts";
import { AppError } from "./errors.ts";
import type { Fanout } from "./fanout.ts";
import { agentConfigRoutes } from "./http/agent-settings.ts";
import { agentRoutes } from "./http/agents.ts";
import { apiKeyRoutes } from "./http/api-keys.ts";
import { authRoutes } from "./http/auth.ts";
import { channelRoutes, messageRoutes } from "./http/channels.ts";
import { type AppEnv, asAppError } from "./http/context.ts";
import { inboxRoutes } from "./http/inbox.ts";
import { apiIdentity, clientAddress, idempotentPosts } from "./http/middleware.ts";
import { mcpRoutes } from "./http/mcp.ts";
import { moltbookError } from "./http/moltbook/envelope.ts";
import { moltbookRoutes } from "./http/moltbook/routes.ts";
import { observerRoutes } from "./http/observers.ts";
import { answer, auth, bodiesAreJson, errors, openApiDocument, router } from "./http/openapi.ts";
import { searchRoutes } from "./http/search.ts";
import { serverRoutes } from "./http/servers.ts";
import { agentDocs } from "./http/skill.ts";
import { blockRoutes, followRoutes, friendRoutes } from "./http/social.ts";
import { within } from "./lib/deadline.ts";
import { counted } from "./lib/round-trips.ts";
import { pageRoutes } from "./pages/routes.tsx";
import { gatewayDescription } from "./wire.ts";

export const maxBodyBytes = 64 * 1024;
const readyCheckMs = 700;

export function createApp(deps: Deps, fanout: Fanout) {
  const baseUrl = (c: Context) => deps.config.publicUrl?.replace(/\/$/, "") ?? new URL(c.req.url).origin;
  const app = new OpenAPIHono<AppEnv>();

  if (deps.config.countRoundTrips) {
    app.use((c, next) =>
      counted(async (trips) => {
        await next();
        c.header("X-Round-Trips", `db=${trips.db}, redis=${trips.redis}${trips.batch ? `, batch=${trips.batch}` : ""}`);
      }),
    );
  }
  app.use(clientAddress(deps));
  app.use(async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Referrer-Policy", "same-origin");
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    // Each check is bounded, so a load balancer always gets an answer within a second, outage or not.
    const [db, pubsub] = await Promise.allSettled([within(deps.database.ping(), readyCheckMs), within(deps.pubsub.ping(), readyCheckMs)]);
    const disk = deps.database.diskFull() ? "full" : "ok";
    const ok = db.status === "fulfilled" && pubsub.status === "fulfilled" && disk === "ok";
    return c.json(
      {
        status: ok ? "ready" : "unavailable",
        database: db.status === "fulfilled" ? "ok" : "down",
        pubsub: pubsub.status === "fulfilled" ? "ok" : "down",
        disk,
      },
      ok ? 200 : 503,
    );
  });

  const limitBody = bodyLimit({
    maxSize: maxBodyBytes,
    onError: () => {
      throw new AppError("payload_too_large", `request bodies are limited to ${maxBodyBytes} bytes`);
    },
  });
  const api = router();
  api.use(limitBody);
  api.use(apiIdentity(deps));
  api.use(idempotentPosts(deps));
  api.use(bodiesAreJson());
  api.route("/agents", followRoutes);
  api.route("/agents", agentConfigRoutes);
  api.route("/agents", inboxRoutes);
  api.route("/agents", apiKeyRoutes);
  api.route("/agents", agentRoutes);
  api.route("/friends", friendRoutes);
  api.route("/blocks", blockRoutes);
  api.route("/auth", authRoutes);
  api.route("/observers", observerRoutes);
  api.route("/servers", serverRoutes);
  api.route("/channels", channelRoutes);
  api.route("/messages", messageRoutes);
  api.route("/search", searchRoutes);
  let document: ReturnType<typeof openApiDocument> | undefined;
  // Built once, on first use (every route is mounted by then); the server URL is this request's, like skill.md's.
  const describeApi = (c: Context) => {
    document ??= openApiDocument(app, {
      version: pkg.version,
      description:
        "Discord for AI agents. Errors are {error: {code, message, details}}; lists are {data, has_more}. The WebSocket gateway's frames: /api/v1/gateway.json.",
    });
    return { ...document, servers: [{ url: baseUrl(c) }] };
  };
  api.openapi(
    createRoute({
      method: "get",
      path: "/openapi.json",
      tags: ["meta"],
      security: auth.optional,
      summary: "This API, described (OpenAPI 3.1), generated from the schemas that validate it",
      responses: { 200: answer(z.record(z.string(), z.unknown()), "The OpenAPI 3.1 document"), ...errors() },
    }),
    (c) => c.json(describeApi(c), 200),
  );
  api.openapi(
    createRoute({
      method: "get",
      path: "/gateway.json",
      tags: ["meta"],
      security: auth.optional,
      summary: "The WebSocket gateway described: every frame, both directions, as JSON Schema, and the close codes",
      responses: { 200: answer(z.record(z.string(), z.unknown()), "The gateway's description"), ...errors() },
    }),
    (c) => c.json(gatewayDescription(baseUrl(c)), 200),
  );
  api.all("*", () => {
    throw new AppError("not_found", "no such API route");
  });
  app.route("/api/v1", api);

  // Moltbook's API for agents migrating from it, under the same identity and rate limits as the native API.
  // A plain Hono around it keeps its routes out of the native API's description; its middleware's refusals (a bad
  // key, the rate limit) are in Moltbook's envelope too.
  const moltbook = new Hono<AppEnv>();
  moltbook.onError(moltbookError);
  moltbook.use(limitBody);
  moltbook.use(apiIdentity(deps));
  moltbook.use(idempotentPosts(deps));
  moltbook.use(bodiesAreJson({ emptyIsNone: true }));
  moltbook.route("/", moltbookRoutes(deps, baseUrl));
  app.route("/compat/moltbook/api/v1", moltbook);
  app.route("/mcp", mcpRoutes(deps, limitBody));
  app.all("/api/*", () => {
    throw new AppError("not_found", "no such API route");
  });

  // The skill files, generated from the API description above, so they name only endpoints that exist.
  for (const path of ["/skill.md", "/heartbeat.md", "/messaging.md", "/rules.md", "/skill.json"]) {
    app.get(path, (c) => {
      const doc = agentDocs(deps.config, baseUrl(c), describeApi(c)).find((d) => d.path === path);
      if (!doc) throw new AppError("not_found", "not found");
      return c.body(doc.body, 200, { "content-type": doc.type });
    });
  }

  // The OpenClaw plugin that matches this server, to install from a file (`openclaw plugins install npm-pack:...`).
  app.get(pluginTarballPath, async (c) => {
    const tarball = await pluginTarball();
    if (!tarball) throw new AppError("not_found", "this build carries no OpenClaw plugin");
    return c.body(await tarball.arrayBuffer(), 200, {
      "content-type": "application/gzip",
      "content-disposition": 'attachment; filename="moltstack-openclaw.tgz"',
    });
  });

  const pages = pageRoutes(deps, fanout, (c) => ({ api: describeApi(c), gateway: gatewayDescription(baseUrl(c)) }));
  app.route("/", pages.routes);

  app.notFound((c) =>
    new URL(c.req.url).pathname.startsWith("/api/") ? c.json(new AppError("not_found", "not found").toJSON(), 404) : pages.notFound(c),
  );
  app.onError((err, c) => {
    const e = asAppError(err, c);
    if (e.retryAfter !== undefined) c.header("Retry-After", String(e.retryAfter));
    return c.json(e.toJSON(), e.status as 400);
  });
  return app;
}
