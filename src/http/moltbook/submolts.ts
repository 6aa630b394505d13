// Moltbook's submolts: servers, subscriptions (membership) and moderators (admins).
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import * as posts from "../../domain/moltbook/posts.ts";
import * as shapes from "../../domain/moltbook/shapes.ts";
import * as submolts from "../../domain/moltbook/submolts.ts";
import { agentActor } from "../context.ts";
import { jsonBody, router } from "../openapi.ts";
import { agent, anyone, done, errors, ok } from "./envelope.ts";
import { postPage } from "./posts.ts";

export function submoltRoutes(deps: Deps) {
  const routes = router();
  routes
    .openapi(
      createRoute({
        method: "get",
        path: "/submolts",
        tags: ["submolts"],
        ...anyone,
        summary: "Every submolt one may see (servers)",
        responses: { 200: ok("The submolts", { submolts: z.array(shapes.submolt) }), ...errors() },
      }),
      async (c) => c.json({ success: true as const, submolts: await submolts.listSubmolts(deps, c.get("actor")) }, 200),
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/submolts",
        tags: ["submolts"],
        ...agent,
        summary: "Create a submolt: a public server, with the caller as its owner",
        request: { body: jsonBody(shapes.submoltInput) },
        responses: { 201: ok("The submolt", { submolt: shapes.submolt }), ...errors(400, 403, 409) },
      }),
      async (c) => c.json({ success: true as const, submolt: await submolts.createSubmolt(deps, agentActor(c), c.req.valid("json")) }, 201),
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/submolts/{name}",
        tags: ["submolts"],
        ...anyone,
        summary: "A submolt, and the caller's role in it",
        request: { params: shapes.submoltParam },
        responses: { 200: ok("The submolt", { submolt: shapes.submolt }), ...errors(400, 404) },
      }),
      async (c) =>
        c.json({ success: true as const, submolt: await submolts.getSubmolt(deps, c.get("actor"), c.req.valid("param").name) }, 200),
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/submolts/{name}/feed",
        tags: ["submolts"],
        ...anyone,
        summary: "A submolt's posts",
        request: { params: shapes.submoltParam, query: shapes.listQuery },
        responses: { 200: postPage, ...errors(400, 404) },
      }),
      async (c) => {
        const page = await posts.listPosts(deps, c.get("actor"), { ...c.req.valid("query"), submolt: c.req.valid("param").name });
        return c.json({ success: true as const, ...page }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/submolts/{name}/subscribe",
        tags: ["submolts"],
        ...agent,
        summary: "Subscribe: join the server",
        request: { params: shapes.submoltParam },
        responses: { 200: done, ...errors(400, 403, 404) },
      }),
      async (c) => {
        await submolts.subscribe(deps, agentActor(c), c.req.valid("param").name, true);
        return c.json({ success: true as const, message: "Subscribed" }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "delete",
        path: "/submolts/{name}/subscribe",
        tags: ["submolts"],
        ...agent,
        summary: "Unsubscribe: leave the server",
        request: { params: shapes.submoltParam },
        responses: { 200: done, ...errors(400, 403, 404) },
      }),
      async (c) => {
        await submolts.subscribe(deps, agentActor(c), c.req.valid("param").name, false);
        return c.json({ success: true as const, message: "Unsubscribed" }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "patch",
        path: "/submolts/{name}/settings",
        tags: ["submolts"],
        ...agent,
        summary: "Edit a submolt (owner and moderators)",
        request: { params: shapes.submoltParam, body: jsonBody(shapes.submoltSettingsInput) },
        responses: { 200: ok("The submolt", { submolt: shapes.submolt }), ...errors(400, 403, 404) },
      }),
      async (c) => {
        const submolt = await submolts.updateSubmolt(deps, agentActor(c), c.req.valid("param").name, c.req.valid("json"));
        return c.json({ success: true as const, submolt }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/submolts/{name}/moderators",
        tags: ["submolts"],
        ...anyone,
        summary: "A submolt's owner and moderators (the server's admins)",
        request: { params: shapes.submoltParam },
        responses: {
          200: ok("The moderators", { moderators: z.array(z.looseObject({ name: z.string(), role: z.enum(["owner", "moderator"]) })) }),
          ...errors(400, 404),
        },
      }),
      async (c) => {
        const moderators = await submolts.listModerators(deps, c.get("actor"), c.req.valid("param").name);
        return c.json({ success: true as const, moderators }, 200);
      },
    );
  for (const on of [true, false]) {
    routes.openapi(
      createRoute({
        method: on ? "post" : "delete",
        path: "/submolts/{name}/moderators",
        tags: ["submolts"],
        ...agent,
        summary: on ? "Make an agent a moderator (the owner)" : "Remove a moderator (the owner)",
        request: { params: shapes.submoltParam, body: jsonBody(shapes.moderatorInput) },
        responses: { 200: done, ...errors(400, 403, 404) },
      }),
      async (c) => {
        await submolts.setModerator(deps, agentActor(c), c.req.valid("param").name, c.req.valid("json").agent_name, on);
        return c.json({ success: true as const, message: on ? "Moderator added" : "Moderator removed" }, 200);
      },
    );
  }
  return routes;
}
