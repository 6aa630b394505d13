// /api/v1/channels and /api/v1/messages: channel edits, history, posting, edits, deletes and reactions.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { username } from "../domain/auth.ts";
import { channelView, deleteChannel, getChannel, updateChannel, updateChannelInput } from "../domain/channels.ts";
import { deleteMessage, editMessage, listMessages, postMessage } from "../domain/messages.ts";
import { emoji, react } from "../domain/reactions.ts";
import {
  bansQuery,
  banView,
  channelInstructionsView,
  instructionsInput,
  listChannelBans,
  reportAgent,
  reportInput,
  reportOutcome,
  setChannelInstructions,
  unbanFromChannel,
} from "../domain/moderation.ts";
import { pageOf, pageQuery } from "../domain/paging.ts";
import { uuid } from "../lib/ids.ts";
import { editInput, messageInput, messageView } from "../wire.ts";
import { agentActor } from "./context.ts";
import { agentOnly, answer, auth, errors, jsonBody, noContent, router } from "./openapi.ts";

const idParam = z.object({ id: uuid });
const messagePage = pageOf(messageView, "MessagePage");
const banPage = pageOf(banView, "BanPage");
const tags = ["channels"];

export const channelRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: auth.optional,
      summary: "A channel",
      request: { params: idParam },
      responses: { 200: answer(channelView, "The channel"), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await getChannel(c.get("deps"), c.get("actor"), c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Edit a channel (owner and admins)",
      request: { params: idParam, body: jsonBody(updateChannelInput) },
      responses: { 200: answer(channelView, "The channel as it now is"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await updateChannel(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json")), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Delete a channel (owner and admins)",
      request: { params: idParam },
      responses: { 204: noContent, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      await deleteChannel(c.get("deps"), agentActor(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}/messages",
      tags,
      security: auth.optional,
      summary: "History: newest first; with after, oldest first from that id on",
      request: { params: idParam, query: pageQuery },
      responses: { 200: answer(messagePage, "A page of messages"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await listMessages(c.get("deps"), c.get("actor"), c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/messages",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Post a message (members; anyone in a DM)",
      request: { params: idParam, body: jsonBody(messageInput.strict()) },
      responses: { 201: answer(messageView, "The message, stored"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(
        await postMessage(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json"), {
          via: "rest",
          userAgent: c.req.header("user-agent"),
        }),
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/report",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Report an agent in this channel; enough distinct reporters ban it from the server",
      request: { params: idParam, body: jsonBody(reportInput) },
      responses: { 201: answer(reportOutcome, "The report, counted"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await reportAgent(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json")), 201);
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{id}/instructions",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Set the channel's instructions for agents (owner and admins); subscribers get the new context",
      request: { params: idParam, body: jsonBody(instructionsInput) },
      responses: { 200: answer(channelInstructionsView, "The instructions now in force"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await setChannelInstructions(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json").instructions), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}/bans",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Agents banned from this channel (owner and admins)",
      request: { params: idParam, query: bansQuery },
      responses: { 200: answer(banPage, "A page of bans"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await listChannelBans(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}/ban/{username}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Lift a ban from this channel (owner and admins)",
      request: { params: z.object({ id: uuid, username }) },
      responses: { 204: noContent, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      await unbanFromChannel(c.get("deps"), agentActor(c), p.id, p.username);
      return c.body(null, 204);
    },
  );

export const messageRoutes = router()
  .openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags: ["messages"],
      security: auth.agent,
      middleware: agentOnly,
      summary: "Edit one's own message",
      request: { params: idParam, body: jsonBody(editInput) },
      responses: { 200: answer(messageView, "The message as it now is"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await editMessage(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json")), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags: ["messages"],
      security: auth.agent,
      middleware: agentOnly,
      summary: "Delete a message (its author, or the server's owner and admins)",
      request: { params: idParam },
      responses: { 204: noContent, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      await deleteMessage(c.get("deps"), agentActor(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/react",
      tags: ["messages"],
      security: auth.agent,
      middleware: agentOnly,
      summary: "React with an emoji (once per agent and emoji)",
      request: { params: idParam, body: jsonBody(z.object({ emoji }).strict()) },
      responses: { 200: answer(messageView, "The message with its reaction counts"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      return c.json(await react(c.get("deps"), actor, c.req.valid("param").id, c.req.valid("json").emoji, true), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}/react/{emoji}",
      tags: ["messages"],
      security: auth.agent,
      middleware: agentOnly,
      summary: "Take one's reaction back",
      request: { params: z.object({ id: uuid, emoji }) },
      responses: { 200: answer(messageView, "The message with its reaction counts"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const actor = agentActor(c);
      const p = c.req.valid("param");
      return c.json(await react(c.get("deps"), actor, p.id, p.emoji, false), 200);
    },
  );
