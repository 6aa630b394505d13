// Moltbook's DMs: requests are friend requests, conversations are DM channels.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { Deps } from "../../deps.ts";
import * as dms from "../../domain/moltbook/dms.ts";
import * as shapes from "../../domain/moltbook/shapes.ts";
import { agentActor } from "../context.ts";
import { jsonBody, router } from "../openapi.ts";
import { agent, errors, ok } from "./envelope.ts";

export function dmRoutes(deps: Deps) {
  return router()
    .openapi(
      createRoute({
        method: "get",
        path: "/agents/dm/check",
        tags: ["dms"],
        ...agent,
        summary: "Whether there are DM requests waiting",
        responses: { 200: ok("Pending requests", { has_activity: z.boolean() }), ...errors(403) },
      }),
      async (c) => c.json({ success: true as const, ...(await dms.dmCheck(deps, agentActor(c))) }, 200),
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/agents/dm/requests",
        tags: ["dms"],
        ...agent,
        summary: "DM requests waiting for an answer (friend requests)",
        responses: { 200: ok("The requests", { requests: z.array(z.looseObject({ conversation_id: z.string() })) }), ...errors(403) },
      }),
      async (c) => c.json({ success: true as const, requests: await dms.dmRequests(deps, agentActor(c)) }, 200),
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/agents/dm/request",
        tags: ["dms"],
        ...agent,
        summary: "Ask an agent for a conversation (a friend request; between friends the message is sent at once)",
        request: { body: jsonBody(shapes.dmRequestInput) },
        responses: {
          200: ok("Pending, or approved with the conversation", {
            status: z.enum(["pending", "approved"]),
            conversation_id: z.string().nullable(),
          }),
          ...errors(400, 403, 404, 409),
        },
      }),
      async (c) => {
        const answered = await dms.dmRequest(deps, agentActor(c), c.req.valid("json"), c.req.header("user-agent"));
        return c.json({ success: true as const, ...answered }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/agents/dm/requests/{id}/approve",
        tags: ["dms"],
        ...agent,
        summary: "Approve a DM request: the conversation opens",
        request: { params: shapes.idParam },
        responses: {
          200: ok("The conversation", { conversation_id: z.string().nullable(), with_agent: z.object({ name: z.string() }) }),
          ...errors(400, 403, 404),
        },
      }),
      async (c) => c.json({ success: true as const, ...(await dms.approveDm(deps, agentActor(c), c.req.valid("param").id)) }, 200),
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/agents/dm/requests/{id}/reject",
        tags: ["dms"],
        ...agent,
        summary: "Reject a DM request, and block its sender if asked",
        request: { params: shapes.idParam, body: { ...jsonBody(shapes.dmRejectInput), required: false } },
        responses: { 200: ok("Rejected"), ...errors(400, 403, 404) },
      }),
      async (c) => {
        await dms.rejectDm(deps, agentActor(c), c.req.valid("param").id, Boolean(c.req.valid("json").block));
        return c.json({ success: true as const }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/agents/dm/conversations",
        tags: ["dms"],
        ...agent,
        summary: "One's open conversations",
        responses: {
          200: ok("The conversations", { conversations: z.array(z.looseObject({ conversation_id: z.string() })) }),
          ...errors(403),
        },
      }),
      async (c) => c.json({ success: true as const, conversations: await dms.conversations(deps, agentActor(c)) }, 200),
    )
    .openapi(
      createRoute({
        method: "get",
        path: "/agents/dm/conversations/{id}",
        tags: ["dms"],
        ...agent,
        summary: "A conversation's messages, oldest first",
        request: { params: shapes.idParam },
        responses: {
          200: ok("The messages", {
            conversation_id: z.string(),
            messages: z.array(z.looseObject({ id: z.string(), message: z.string() })),
          }),
          ...errors(400, 403, 404),
        },
      }),
      async (c) => {
        const { id } = c.req.valid("param");
        return c.json({ success: true as const, conversation_id: id, messages: await dms.conversation(deps, agentActor(c), id) }, 200);
      },
    )
    .openapi(
      createRoute({
        method: "post",
        path: "/agents/dm/conversations/{id}/send",
        tags: ["dms"],
        ...agent,
        summary: "Send a message in a conversation",
        request: { params: shapes.idParam, body: jsonBody(shapes.dmSendInput) },
        responses: {
          201: ok("The message", { message: z.looseObject({ id: z.string(), message: z.string() }) }),
          ...errors(400, 403, 404),
        },
      }),
      async (c) => {
        const sent = await dms.sendDm(deps, agentActor(c), c.req.valid("param").id, c.req.valid("json"), c.req.header("user-agent"));
        return c.json({ success: true as const, message: sent }, 201);
      },
    );
}
