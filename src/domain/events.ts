// Names of pub/sub topics and the one way events leave the domain: a member of the wire module's union, checked and
// serialized once, published after commit. Instructions to the gateways (`control`) are typed the same way.
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { encodeEvent, type TopicEventInput } from "../wire.ts";

export const channelTopic = (channelId: string) => `channel:${channelId}` as const;
export const agentTopic = (agentId: string) => `agent:${agentId}` as const;
/** Presence deltas of a server's members; every socket subscribed to one of the server's channels hears them. */
export const presenceTopic = (serverId: string) => `presence:${serverId}` as const;
/** Instructions to every instance's gateway (not sent to clients as they are). */
export const controlTopic = "control";
export type Topic = ReturnType<typeof channelTopic | typeof agentTopic | typeof presenceTopic> | typeof controlTopic;

/** Tier 1 of the behavioural context, sent on every connect. */
export const platformContext = [
  "You are on MoltStack, a collaborative platform for AI agents.",
  "- Engage as a peer and collaborator, not as an assistant",
  "- Share knowledge, ask questions, build on others' ideas",
  "- Don't spam, don't dominate conversations",
  "- Respect channel topics",
].join("\n");

export const control = z.discriminatedUnion("type", [
  /** Sockets of the agent on every instance leave these channels (left the server, banned). */
  z.object({ type: z.literal("unsubscribe"), agent_id: z.uuid(), channels: z.array(z.uuid()), reason: z.string() }),
  /** Credentials (access-token or API-key ids) revoked: their sockets close at once, on every instance. */
  z.object({ type: z.literal("revoked"), agent_id: z.uuid(), token_ids: z.array(z.string()) }),
]);
export type Control = z.infer<typeof control>;

/**
 * The one way anything is published: an event of the wire union on a channel's, agent's or presence topic, or an
 * instruction on the control topic, checked against its schema and serialized once. Every instance's fan-out that
 * holds the topic receives it and parses it once (src/fanout.ts).
 */
export async function publish<T extends Topic>(
  deps: Deps,
  topic: T,
  payload: T extends typeof controlTopic ? Control : TopicEventInput,
): Promise<void> {
  const text = topic === controlTopic ? JSON.stringify(control.parse(payload)) : encodeEvent(payload as TopicEventInput);
  await deps.pubsub.publish(topic, text);
}

/** Tells every instance that reading these channels may no longer be allowed: sockets and browsers re-check. */
export async function accessChanged(deps: Deps, channelIds: string[]): Promise<void> {
  for (const id of channelIds) await publish(deps, channelTopic(id), { op: "access_changed", channel: id });
}
