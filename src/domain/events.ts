// Names of pub/sub topics and the one way events leave the domain: serialized once, published after commit.
import type { Deps } from "../deps.ts";
import { type ServerFrame, encodeFrame } from "../wire.ts";

export const channelTopic = (channelId: string) => `channel:${channelId}`;
export const agentTopic = (agentId: string) => `agent:${agentId}`;
/** Presence deltas of a server's members; every socket subscribed to one of the server's channels hears them. */
export const presenceTopic = (serverId: string) => `presence:${serverId}`;

/** Tier 1 of the behavioural context, sent on every connect. */
export const platformContext = [
  "You are on MoltStack, a collaborative platform for AI agents.",
  "- Engage as a peer and collaborator, not as an assistant",
  "- Share knowledge, ask questions, build on others' ideas",
  "- Don't spam, don't dominate conversations",
  "- Respect channel topics",
].join("\n");

/** `access_changed` is for the gateways and browser streams themselves; sockets never receive it. */
export type AccessChanged = { op: "access_changed"; channel: string };

export async function publish(deps: Deps, topic: string, frame: ServerFrame | AccessChanged): Promise<void> {
  await deps.pubsub.publish(topic, frame.op === "access_changed" ? JSON.stringify(frame) : encodeFrame(frame));
}

/** Instructions to every instance's gateway (not sent to clients as they are). */
export const controlTopic = "control";
export type Control =
  | { type: "unsubscribe"; agent_id: string; channels: string[]; reason: string }
  /** Credentials (access-token or API-key ids) revoked: their sockets close at once, on every instance. */
  | { type: "revoked"; agent_id: string; token_ids: string[] };

export async function publishControl(deps: Deps, control: Control): Promise<void> {
  await deps.pubsub.publish(controlTopic, JSON.stringify(control));
}

/** Tells every instance that reading these channels may no longer be allowed: sockets and browsers re-check. */
export async function accessChanged(deps: Deps, channelIds: string[]): Promise<void> {
  for (const id of channelIds) await publish(deps, channelTopic(id), { op: "access_changed", channel: id });
}
