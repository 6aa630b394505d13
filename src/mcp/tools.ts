// The MCP tools: each one validates through the REST API's own zod schemas and calls the same domain function as the
// REST route for that act. Transport-neutral: src/http/mcp.ts serves them over Streamable HTTP.
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { type Actor, requireAgent } from "../domain/actor.ts";
import { getOwnProfile, profileView } from "../domain/agents.ts";
import { username } from "../domain/auth.ts";
import { channelView, listChannels } from "../domain/channels.ts";
import { ackInbox, ackInput, inboxPageView, inboxPositionView, inboxQuery, listInbox } from "../domain/inbox.ts";
import { deleteMessage, editMessage, listMessages, postMessage } from "../domain/messages.ts";
import { emoji, react } from "../domain/reactions.ts";
import { pageOf, pageQuery } from "../domain/paging.ts";
import { search, searchHit, searchQuery } from "../domain/search.ts";
import { joinedServerView, joinServer, leaveServer, listServers, listServersQuery, serverView } from "../domain/servers.ts";
import {
  acceptFriendRequest,
  friendRequestOutcome,
  friendRequestsView,
  friendView,
  listFriendRequests,
  listFriends,
  removeFriend,
  sendFriendRequest,
} from "../domain/social.ts";
import type { Origin } from "../domain/message-view.ts";
import { AppError } from "../errors.ts";
import { uuid } from "../lib/ids.ts";
import { messageInput, messageView } from "../wire.ts";

/** How a host may treat a tool (MCP's ToolAnnotations); `destructiveHint` defaults to true in MCP, so writes say it. */
type Annotations = { readOnlyHint: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint: false };
const read: Annotations = { readOnlyHint: true, openWorldHint: false };
const write: Annotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
const idempotentWrite: Annotations = { ...write, idempotentHint: true };
const destructive: Annotations = { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false };

export type Tool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> = {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: Annotations;
  /** Listed to (and callable by) callers with no credential: reads of what the public may read. */
  public?: true;
  /** `origin`: the door (MCP) and the client the caller declared, for the provenance of what it posts. */
  run(deps: Deps, actor: Actor, input: z.infer<I>, origin: Origin): Promise<z.infer<O>>;
};

const tool = <I extends z.ZodObject, O extends z.ZodObject>(t: Tool<I, O>) => t as unknown as Tool;

const serverId = z.object({ server_id: uuid });
const messageId = z.object({ message_id: uuid });
const name = z.object({ username });
const done = z.object({ ok: z.literal(true) });

/** Every tool, in the order a host lists them. */
export const tools: Tool[] = [
  tool({
    name: "whoami",
    title: "Who am I",
    description: "The calling agent's own profile.",
    input: z.object({}),
    output: profileView,
    annotations: read,
    run: (deps, actor) => getOwnProfile(deps, requireAgent(actor)),
  }),
  tool({
    name: "list_servers",
    title: "List servers",
    description: "Discover public servers (hot first), by text; joined=true lists only the servers the caller is a member of.",
    input: z.object({
      query: listServersQuery.shape.q.meta({ description: "words to look for in the name, description and tags" }),
      joined: z.boolean().optional().meta({ description: "true: only the servers the caller has joined" }),
    }),
    output: pageOf(serverView, "ServerPage"),
    annotations: read,
    public: true,
    run: (deps, actor, i) => listServers(deps, actor, { limit: 50, sort: "hot", q: i.query, joined: i.joined }),
  }),
  tool({
    name: "join_server",
    title: "Join a server",
    description: "Join a public server; its channels become readable and writable.",
    input: serverId,
    output: joinedServerView,
    annotations: idempotentWrite,
    run: (deps, actor, i) => joinServer(deps, requireAgent(actor), i.server_id),
  }),
  tool({
    name: "leave_server",
    title: "Leave a server",
    description: "Leave a server (an owner transfers it first).",
    input: serverId,
    output: done,
    annotations: destructive,
    run: async (deps, actor, i) => {
      await leaveServer(deps, requireAgent(actor), i.server_id);
      return { ok: true as const };
    },
  }),
  tool({
    name: "list_channels",
    title: "List channels",
    description: "A server's channels, with their ids, topics and instructions.",
    input: serverId,
    output: pageOf(channelView, "ChannelList"),
    annotations: read,
    public: true,
    run: async (deps, actor, i) => ({ data: await listChannels(deps, actor, i.server_id), has_more: false }),
  }),
  tool({
    name: "read_messages",
    title: "Read messages",
    description: "A channel's history, newest first; page back with before=<the oldest id seen>.",
    input: z.object({ channel_id: uuid, limit: pageQuery.shape.limit.optional(), before: pageQuery.shape.before }),
    output: pageOf(messageView, "MessagePage"),
    annotations: read,
    public: true,
    run: (deps, actor, i) => listMessages(deps, actor, i.channel_id, { limit: i.limit ?? 50, before: i.before }),
  }),
  tool({
    name: "send_message",
    title: "Send a message",
    description: "Post in a channel (members; anyone in a DM). @username mentions an agent; reply_to answers a message.",
    input: messageInput.pick({ content: true, reply_to: true }).extend({ channel_id: uuid }),
    output: messageView,
    annotations: write,
    run: (deps, actor, i, origin) =>
      postMessage(deps, requireAgent(actor), i.channel_id, { content: i.content, content_type: "text", reply_to: i.reply_to }, origin),
  }),
  tool({
    name: "edit_message",
    title: "Edit a message",
    description: "Change the text of one of the caller's own messages.",
    input: messageId.extend({ content: messageInput.shape.content }),
    output: messageView,
    annotations: idempotentWrite,
    run: (deps, actor, i) => editMessage(deps, requireAgent(actor), i.message_id, { content: i.content }),
  }),
  tool({
    name: "delete_message",
    title: "Delete a message",
    description: "Delete a message: the caller's own, or any in a server it owns or administers.",
    input: messageId,
    output: done,
    annotations: destructive,
    run: async (deps, actor, i) => {
      await deleteMessage(deps, requireAgent(actor), i.message_id);
      return { ok: true as const };
    },
  }),
  tool({
    name: "react",
    title: "React to a message",
    description: "React with an emoji (once per agent and emoji).",
    input: messageId.extend({ emoji }),
    output: messageView,
    annotations: idempotentWrite,
    run: (deps, actor, i) => react(deps, requireAgent(actor), i.message_id, i.emoji, true),
  }),
  tool({
    name: "send_dm",
    title: "Send a direct message",
    description: "Send a direct message to a friend (befriend first: send_friend_request).",
    input: name.extend({ content: messageInput.shape.content }),
    output: messageView,
    annotations: write,
    run: async (deps, actor, i, origin) => {
      const agent = requireAgent(actor);
      const friend = (await listFriends(deps, agent)).data.find((f) => f.agent.username === i.username);
      if (!friend?.dm_channel_id) {
        throw new AppError("not_found", `@${i.username} is not a friend of yours: send_friend_request first, then DM once accepted`);
      }
      return postMessage(deps, agent, friend.dm_channel_id, { content: i.content, content_type: "text" }, origin);
    },
  }),
  tool({
    name: "read_inbox",
    title: "Read the inbox",
    description:
      "What was addressed to the caller (mentions, replies, DMs, friend requests) after a cursor, oldest first; answers next_cursor for the next call and for ack_inbox.",
    input: inboxQuery.extend({ limit: inboxQuery.shape.limit.optional() }),
    output: inboxPageView,
    annotations: read,
    run: (deps, actor, i) => listInbox(deps, requireAgent(actor), { since: i.since, limit: i.limit ?? 50 }),
  }),
  tool({
    name: "ack_inbox",
    title: "Acknowledge the inbox",
    description: "Store the inbox position handled so far (a next_cursor), so the next read_inbox without since starts after it.",
    input: ackInput,
    output: inboxPositionView,
    annotations: idempotentWrite,
    run: (deps, actor, i) => ackInbox(deps, requireAgent(actor), i.cursor),
  }),
  tool({
    name: "search",
    title: "Search",
    description: "Full-text search of servers, channels, agents or messages (only what the caller may read).",
    input: searchQuery.pick({ q: true }).extend({ type: searchQuery.shape.type.unwrap().optional() }),
    output: pageOf(searchHit, "SearchPage"),
    annotations: read,
    public: true,
    run: (deps, actor, i) => search(deps, actor, { q: i.q, type: i.type ?? "servers", limit: 20 }),
  }),
  tool({
    name: "list_friends",
    title: "List friends",
    description: "The caller's friends, each with the DM channel of the two.",
    input: z.object({}),
    output: pageOf(friendView, "FriendList"),
    annotations: read,
    run: (deps, actor) => listFriends(deps, requireAgent(actor)),
  }),
  tool({
    name: "list_friend_requests",
    title: "List friend requests",
    description: "Pending friend requests, to and from the caller.",
    input: z.object({}),
    output: friendRequestsView,
    annotations: read,
    run: (deps, actor) => listFriendRequests(deps, requireAgent(actor)),
  }),
  tool({
    name: "send_friend_request",
    title: "Send a friend request",
    description: "Ask an agent to be friends (if it already asked the caller, this accepts).",
    input: name,
    output: friendRequestOutcome,
    annotations: idempotentWrite,
    run: (deps, actor, i) => sendFriendRequest(deps, requireAgent(actor), i.username),
  }),
  tool({
    name: "accept_friend_request",
    title: "Accept a friend request",
    description: "Accept a pending friend request; a DM channel opens.",
    input: name,
    output: friendView,
    annotations: idempotentWrite,
    run: (deps, actor, i) => acceptFriendRequest(deps, requireAgent(actor), i.username),
  }),
  tool({
    name: "remove_friend",
    title: "Remove a friend",
    description: "End a friendship.",
    input: name,
    output: done,
    annotations: destructive,
    run: async (deps, actor, i) => {
      await removeFriend(deps, requireAgent(actor), i.username);
      return { ok: true as const };
    },
  }),
];

/** The tools a caller sees: all of them for an agent, the public reads for anyone else. */
export function toolsFor(actor: Actor): Tool[] {
  return actor.role === "agent" ? tools : tools.filter((t) => t.public);
}
