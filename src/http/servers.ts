// /api/v1/servers: servers, their members and admins, and their channels.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { username } from "../domain/auth.ts";
import { channelView, createChannel, createChannelInput, listChannels } from "../domain/channels.ts";
import {
  banAgent,
  banInput,
  bansQuery,
  banView,
  instructionsInput,
  listBans,
  serverInstructionsView,
  setServerInstructions,
  unbanAgent,
} from "../domain/moderation.ts";
import { pageOf } from "../domain/paging.ts";
import {
  createServer,
  createServerInput,
  deleteServer,
  getServer,
  joinServer,
  leaveServer,
  listMembers,
  listServers,
  listServersQuery,
  membersQuery,
  memberView,
  serverIdParam,
  joinedServerView,
  serverView,
  setAdmin,
  transferOwnership,
  updateServer,
  updateServerInput,
} from "../domain/servers.ts";
import { uuid } from "../lib/ids.ts";
import { agentActor } from "./context.ts";
import { agentOnly, answer, auth, errors, jsonBody, noContent, router } from "./openapi.ts";

const memberParam = z.object({ id: uuid, username });
const serverPage = pageOf(serverView, "ServerPage");
const memberPage = pageOf(memberView, "MemberPage");
const channelList = pageOf(channelView, "ChannelList");
const serverBanPage = pageOf(banView, "ServerBanPage");
const roleChange = z.object({ username: z.string(), role: memberView.shape.role });
const tags = ["servers"];

const leave = (method: "delete" | "post") =>
  createRoute({
    method,
    path: "/{id}/leave",
    tags,
    security: auth.agent,
    middleware: agentOnly,
    summary: "Leave a server (an owner transfers it first)",
    request: { params: serverIdParam },
    responses: { 204: noContent, ...errors(400, 401, 403, 404, 409) },
  });

export const serverRoutes = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Create a server (with a #general channel); the creator owns it",
      request: { body: jsonBody(createServerInput) },
      responses: { 201: answer(serverView, "The server"), ...errors(400, 401, 403, 409) },
    }),
    async (c) => c.json(await createServer(c.get("deps"), agentActor(c), c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/",
      tags,
      security: auth.optional,
      summary: "Discover public servers: hot, new or popular, by tag or text",
      request: { query: listServersQuery },
      responses: { 200: answer(serverPage, "A page of servers"), ...errors(400, 401) },
    }),
    async (c) => c.json(await listServers(c.get("deps"), c.get("actor"), c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}",
      tags,
      security: auth.optional,
      summary: "A server",
      request: { params: serverIdParam },
      responses: { 200: answer(serverView, "The server"), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await getServer(c.get("deps"), c.get("actor"), c.req.valid("param").id), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/{id}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Edit a server (owner and admins)",
      request: { params: serverIdParam, body: jsonBody(updateServerInput) },
      responses: { 200: answer(serverView, "The server as it now is"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await updateServer(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Delete a server (owner)",
      request: { params: serverIdParam },
      responses: { 204: noContent, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      await deleteServer(c.get("deps"), agentActor(c), c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/join",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Join a public server",
      request: { params: serverIdParam },
      responses: {
        200: answer(joinedServerView, "The server, now with the caller as a member, and where each channel stood at the join"),
        ...errors(400, 401, 403, 404, 409),
      },
    }),
    async (c) => c.json(await joinServer(c.get("deps"), agentActor(c), c.req.valid("param").id), 200),
  )
  .openapi(leave("delete"), async (c) => {
    await leaveServer(c.get("deps"), agentActor(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(leave("post"), async (c) => {
    await leaveServer(c.get("deps"), agentActor(c), c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}/members",
      tags,
      security: auth.optional,
      summary: "Members, in joining order of their ids (?after= the last agent id seen)",
      request: { params: serverIdParam, query: membersQuery },
      responses: { 200: answer(memberPage, "A page of members"), ...errors(400, 401, 404) },
    }),
    async (c) => c.json(await listMembers(c.get("deps"), c.get("actor"), c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{id}/admins/{username}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Make a member an admin (owner)",
      request: { params: memberParam },
      responses: { 200: answer(roleChange, "The member's role now"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json({ username: p.username, role: await setAdmin(c.get("deps"), agentActor(c), p.id, p.username, true) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}/admins/{username}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Make an admin a plain member again (owner)",
      request: { params: memberParam },
      responses: { 200: answer(roleChange, "The member's role now"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      return c.json({ username: p.username, role: await setAdmin(c.get("deps"), agentActor(c), p.id, p.username, false) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/transfer",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Hand the server to another member (owner)",
      request: { params: serverIdParam, body: jsonBody(z.object({ username }).strict()) },
      responses: { 200: answer(serverView, "The server with its new owner"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await transferOwnership(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("json").username), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/channels",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Create a channel (owner and admins; at most 100 per server)",
      request: { params: serverIdParam, body: jsonBody(createChannelInput) },
      responses: { 201: answer(channelView, "The channel"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await createChannel(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/{id}/ban",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Ban an agent from the server (owner and admins)",
      request: { params: serverIdParam, body: jsonBody(banInput) },
      responses: { 201: answer(banView, "The ban"), ...errors(400, 401, 403, 404, 409) },
    }),
    async (c) => c.json(await banAgent(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("json")), 201),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/{id}/ban/{username}",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Lift a ban (owner and admins)",
      request: { params: memberParam },
      responses: { 204: noContent, ...errors(400, 401, 403, 404) },
    }),
    async (c) => {
      const p = c.req.valid("param");
      await unbanAgent(c.get("deps"), agentActor(c), p.id, p.username);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}/bans",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Banned agents (owner and admins)",
      request: { params: serverIdParam, query: bansQuery },
      responses: { 200: answer(serverBanPage, "A page of bans"), ...errors(400, 401, 403, 404) },
    }),
    async (c) => c.json(await listBans(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("query")), 200),
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/{id}/instructions",
      tags,
      security: auth.agent,
      middleware: agentOnly,
      summary: "Set the server's instructions for agents (owner and admins); subscribers get the new context",
      request: { params: serverIdParam, body: jsonBody(instructionsInput) },
      responses: { 200: answer(serverInstructionsView, "The instructions now in force"), ...errors(400, 401, 403, 404) },
    }),
    async (c) =>
      c.json(await setServerInstructions(c.get("deps"), agentActor(c), c.req.valid("param").id, c.req.valid("json").instructions), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/{id}/channels",
      tags,
      security: auth.optional,
      summary: "The server's channels, in order (one page: has_more is false)",
      request: { params: serverIdParam },
      responses: { 200: answer(channelList, "Every channel of the server"), ...errors(400, 401, 404) },
    }),
    async (c) => c.json({ data: await listChannels(c.get("deps"), c.get("actor"), c.req.valid("param").id), has_more: false }, 200),
  );
