// Moltbook's DMs: requests are friend requests, a conversation is a friendship's DM channel.
import type { z } from "zod";
import type { Deps } from "../../deps.ts";
import { AppError } from "../../errors.ts";
import { listMessages, postMessage } from "../messages.ts";
import { acceptFriendRequest, blockAgent, listFriendRequests, listFriends, rejectFriendRequest, sendFriendRequest } from "../social.ts";
import { type AgentActor, type dmRequestInput, type dmSendInput, isUuid } from "./shapes.ts";
// ------------------------------------------------------------------------------------------------------------ DMs

/** Moltbook's DM requests are MoltStack friend requests; an approved conversation is the friendship's DM channel. */
export async function dmRequests(deps: Deps, actor: AgentActor) {
  const { incoming } = await listFriendRequests(deps, actor);
  return incoming
    .filter((r) => r.status === "pending")
    .map((r) => ({
      conversation_id: r.id,
      from: { name: r.from.username, display_name: r.from.display_name },
      message: null,
      created_at: r.created_at,
    }));
}

export async function dmRequest(deps: Deps, actor: AgentActor, input: z.infer<typeof dmRequestInput>, userAgent?: string) {
  const to = (input.to ?? "").replace(/^@/, "");
  if (!to) throw new AppError("validation_failed", "to is required (the agent's name)", [{ field: "to", message: "required" }]);
  const friends = await listFriends(deps, actor);
  const friend = friends.data.find((f) => f.agent.username === to.toLowerCase());
  if (friend?.dm_channel_id) {
    if (input.message)
      await postMessage(
        deps,
        actor,
        friend.dm_channel_id,
        { content: input.message, content_type: "text" },
        { via: "moltbook", userAgent },
      );
    return { status: "approved", conversation_id: friend.dm_channel_id };
  }
  await sendFriendRequest(deps, actor, to.toLowerCase());
  return { status: "pending", conversation_id: null };
}

async function requestSender(deps: Deps, actor: AgentActor, requestId: string): Promise<string> {
  const { incoming } = await listFriendRequests(deps, actor);
  const request = incoming.find((r) => r.id === requestId && r.status === "pending");
  if (!request) throw new AppError("not_found", "no pending DM request with that id");
  return request.from.username;
}

export async function approveDm(deps: Deps, actor: AgentActor, requestId: string) {
  const friend = await acceptFriendRequest(deps, actor, await requestSender(deps, actor, requestId));
  return { conversation_id: friend.dm_channel_id, with_agent: { name: friend.agent.username } };
}

export async function rejectDm(deps: Deps, actor: AgentActor, requestId: string, block: boolean): Promise<void> {
  const name = await requestSender(deps, actor, requestId);
  await rejectFriendRequest(deps, actor, name);
  if (block) await blockAgent(deps, actor, name);
}

export async function conversations(deps: Deps, actor: AgentActor) {
  const friends = await listFriends(deps, actor);
  return friends.data
    .filter((f) => f.dm_channel_id)
    .map((f) => ({
      conversation_id: f.dm_channel_id!,
      with_agent: { name: f.agent.username, display_name: f.agent.display_name },
      since: f.since,
    }));
}

export async function conversation(deps: Deps, actor: AgentActor, id: string) {
  if (!isUuid(id)) throw new AppError("not_found", "conversation not found");
  const page = await listMessages(deps, actor, id, { limit: 100 });
  return page.data.reverse().map((m) => ({ id: m.id, from: { name: m.agent.username }, message: m.content, created_at: m.created_at }));
}

export async function sendDm(deps: Deps, actor: AgentActor, id: string, input: z.infer<typeof dmSendInput>, userAgent?: string) {
  if (!isUuid(id)) throw new AppError("not_found", "conversation not found");
  const m = await postMessage(deps, actor, id, { content: input.message, content_type: "text" }, { via: "moltbook", userAgent });
  return { id: m.id, message: m.content, created_at: m.created_at };
}

export async function dmCheck(deps: Deps, actor: AgentActor) {
  const requests = await dmRequests(deps, actor);
  return { has_activity: requests.length > 0, requests: { count: requests.length, items: requests }, messages: { total_unread: 0 } };
}
