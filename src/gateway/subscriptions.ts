// The gateway's subscriptions: the channels each socket is subscribed to and the presence topics of their servers,
// how a socket joins a channel (replay then live, src/fanout.ts) and when it leaves one (it asked, it lost access, it
// was removed from the server, it closed). Live events reach the sockets through Bun's topics, serialized once.
// Top-level functions over the gateway's state (./socket.ts).
import type { Actor } from "../domain/actor.ts";
import { channelTopic, presenceTopic } from "../domain/events.ts";
import { replayMessages, subscribeChannel } from "../domain/messages.ts";
import { presenceSnapshot } from "../domain/presence.ts";
import { AppError } from "../errors.ts";
import { closeCodes } from "../wire.ts";
import { type GatewayState, type Socket, send } from "./socket.ts";

const maxSubscriptions = 500;
const maxReplay = 1000;

async function watchServer(state: GatewayState, ws: Socket, serverId: string | null): Promise<void> {
  if (!serverId) return;
  const n = ws.data.servers.get(serverId) ?? 0;
  ws.data.servers.set(serverId, n + 1);
  if (n > 0) return;
  ws.subscribe(presenceTopic(serverId));
  await state.fanout.hold(presenceTopic(serverId));
}

function unwatchServer(state: GatewayState, ws: Socket, serverId: string | null | undefined): void {
  if (!serverId) return;
  const n = (ws.data.servers.get(serverId) ?? 0) - 1;
  if (n > 0) return void ws.data.servers.set(serverId, n);
  ws.data.servers.delete(serverId);
  ws.unsubscribe(presenceTopic(serverId));
  state.fanout.release(presenceTopic(serverId));
}

/** Ends a subscription, saying so with `unsubscribed` (and `reason`); `quiet` when the socket was never told `subscribed`. */
export function leave(state: GatewayState, ws: Socket, channelId: string, reason?: string, quiet = false): void {
  if (!ws.data.channels.has(channelId)) return;
  const serverId = ws.data.channels.get(channelId);
  ws.data.channels.delete(channelId);
  ws.data.seams.get(channelId)?.end?.();
  ws.data.seams.delete(channelId);
  ws.unsubscribe(channelTopic(channelId));
  state.fanout.release(channelTopic(channelId));
  unwatchServer(state, ws, serverId);
  if (!quiet) send(ws, { op: "unsubscribed", channel: channelId, ...(reason ? { reason } : {}) });
}

/** Every event this instance receives, and the fan-out's controls, as the gateway's sockets must hear them. */
export function followEvents(state: GatewayState): void {
  const { fanout } = state;
  // Every event goes to the sockets that joined its topic, serialized once (Bun's topics), except `access_changed`:
  // access to a channel may have narrowed (server made private, channel or server deleted), so every socket here that
  // is subscribed to it proves it can still read it, or leaves it.
  fanout.onEvent(({ topic, event, bytes }) => {
    if (event.op === "access_changed") return recheck(state, event.channel);
    state.server?.publish(topic, bytes);
  });
  // This instance's pub/sub link was down and it could not re-read what its channel missed: the sockets on it
  // reconnect and subscribe with `since` (the client library does), which replays from the database.
  fanout.onMissedEvents((topic) => {
    const channelId = topic.slice("channel:".length);
    for (const ws of state.sockets) {
      if (ws.data.channels.has(channelId))
        ws.close(closeCodes.tryAgainLater, "events may have been missed: reconnect and subscribe with since");
    }
  });
  // An agent removed from channels (it left the server, or was banned) on any instance: its sockets here leave them.
  fanout.onControl((control) => {
    if (control.type !== "unsubscribe") return;
    for (const ws of state.byAgent.get(control.agent_id) ?? []) for (const c of control.channels) leave(state, ws, c, control.reason);
  });
}

async function recheck(state: GatewayState, channelId: string): Promise<void> {
  for (const ws of state.sockets) {
    if (!ws.data.channels.has(channelId)) continue;
    try {
      await subscribeChannel(state.deps, ws.data.actor!, channelId);
    } catch {
      leave(state, ws, channelId, "access_lost");
    }
  }
}

/** Subscribes the socket to a channel: `subscribed`, context, presence, what it missed since `since`, then live. */
export async function subscribe(state: GatewayState, ws: Socket, actor: Actor & { role: "agent" }, channelId: string, since?: string) {
  const { deps, fanout } = state;
  if (ws.data.channels.has(channelId)) return send(ws, { op: "subscribed", channel: channelId });
  if (ws.data.channels.size >= maxSubscriptions) throw new AppError("limit_reached", `at most ${maxSubscriptions} channels per connection`);
  const context = await subscribeChannel(deps, actor, channelId);
  const topic = channelTopic(channelId);
  try {
    await fanout.hold(topic);
  } catch (e) {
    fanout.release(topic);
    throw e;
  }
  if (ws.data.closed) return fanout.release(topic);
  ws.data.channels.set(channelId, context.server_id);
  const seam: { end?: () => void } = {};
  ws.data.seams.set(channelId, seam);
  // This subscription is still the socket's (it did not close, leave the channel, or leave and subscribe again).
  const current = () => !ws.data.closed && ws.data.seams.get(channelId) === seam;
  let told = false;
  try {
    seam.end = await fanout.replayThenLive(topic, {
      // Everything published from here on reaches the socket: nothing after `subscribed` can be missed.
      async replay() {
        await watchServer(state, ws, context.server_id);
        send(ws, { op: "subscribed", channel: channelId });
        told = true;
        send(ws, { op: "context", ...context });
        send(ws, { op: "presence", channel: channelId, ...(await presenceSnapshot(deps, actor, channelId)) });
        if (!since) return undefined;
        const replay = await replayMessages(deps, actor, channelId, since, maxReplay);
        for (const m of replay.messages) send(ws, { op: "message", channel: channelId, ...m });
        const lastId = replay.messages.at(-1)?.id ?? since;
        if (replay.has_more) send(ws, { op: "replay_truncated", channel: channelId, last_id: lastId });
        return lastId;
      },
      live: ({ event, bytes }) => void (current() && event.op !== "access_changed" && ws.send(bytes)),
      join: () => void (current() && ws.subscribe(topic)),
    });
  } catch (e) {
    // Not subscribed after all: undone, and said so if `subscribed` went out already.
    if (current()) leave(state, ws, channelId, "error", !told);
    throw e;
  }
  if (!current()) seam.end();
}

/** The socket closed: every channel and presence topic it held is released. */
export function releaseAll(state: GatewayState, ws: Socket): void {
  for (const seam of ws.data.seams.values()) seam.end?.();
  for (const channelId of ws.data.channels.keys()) state.fanout.release(channelTopic(channelId));
  for (const serverId of ws.data.servers.keys()) state.fanout.release(presenceTopic(serverId));
}
