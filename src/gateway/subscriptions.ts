// The gateway's subscriptions: the channels each socket is subscribed to and the presence topics of their servers,
// how a socket joins a channel (replay then live, src/fanout.ts) and when it leaves one (it asked, it lost access, it
// was removed from the server, it closed). Live events reach the sockets through Bun's topics, serialized once.
import type { Server, ServerWebSocket } from "bun";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { channelTopic, presenceTopic } from "../domain/events.ts";
import { replayMessages, subscribeChannel } from "../domain/messages.ts";
import { presenceSnapshot } from "../domain/presence.ts";
import { AppError } from "../errors.ts";
import type { Fanout } from "../fanout.ts";
import { closeCodes, type ServerFrame } from "../wire.ts";
import type { SocketData } from "./gateway.ts";

const maxSubscriptions = 500;
const maxReplay = 1000;

type Socket = ServerWebSocket<SocketData>;

export type Subscriptions = {
  /** Hands the server over: live events reach sockets through its Bun topics. */
  attach(server: Server<SocketData>): void;
  /** Subscribes the socket to a channel: `subscribed`, context, presence, what it missed since `since`, then live. */
  subscribe(ws: Socket, actor: Actor & { role: "agent" }, channelId: string, since?: string): Promise<void>;
  /** Ends a subscription, saying so with `unsubscribed` (and `reason`). */
  leave(ws: Socket, channelId: string, reason?: string): void;
  /** The socket closed: every channel and presence topic it held is released. */
  closed(ws: Socket): void;
};

/** The sockets open on this instance, as the protocol keeps them. */
export type OpenSockets = { all(): Iterable<Socket>; of(agentId: string): Iterable<Socket> };

export function createSubscriptions(
  deps: Deps,
  fanout: Fanout,
  sockets: OpenSockets,
  send: (ws: Socket, frame: ServerFrame) => void,
): Subscriptions {
  let server: Server<SocketData> | undefined;

  const watchServer = async (ws: Socket, serverId: string | null) => {
    if (!serverId) return;
    const n = ws.data.servers.get(serverId) ?? 0;
    ws.data.servers.set(serverId, n + 1);
    if (n > 0) return;
    ws.subscribe(presenceTopic(serverId));
    await fanout.hold(presenceTopic(serverId));
  };
  const unwatchServer = (ws: Socket, serverId: string | null | undefined) => {
    if (!serverId) return;
    const n = (ws.data.servers.get(serverId) ?? 0) - 1;
    if (n > 0) return void ws.data.servers.set(serverId, n);
    ws.data.servers.delete(serverId);
    ws.unsubscribe(presenceTopic(serverId));
    fanout.release(presenceTopic(serverId));
  };
  /** Ends a subscription; `quiet` when the socket was never told `subscribed`. */
  const leave = (ws: Socket, channelId: string, reason?: string, quiet = false) => {
    if (!ws.data.channels.has(channelId)) return;
    const serverId = ws.data.channels.get(channelId);
    ws.data.channels.delete(channelId);
    ws.data.seams.get(channelId)?.end?.();
    ws.data.seams.delete(channelId);
    ws.unsubscribe(channelTopic(channelId));
    fanout.release(channelTopic(channelId));
    unwatchServer(ws, serverId);
    if (!quiet) send(ws, { op: "unsubscribed", channel: channelId, ...(reason ? { reason } : {}) });
  };

  // Every event this instance receives goes to the sockets that joined its topic, serialized once (Bun's topics),
  // except `access_changed`: access to a channel may have narrowed (server made private, channel or server deleted),
  // so every socket here that is subscribed to it proves it can still read it, or leaves it.
  fanout.onEvent(({ topic, event, bytes }) => {
    if (event.op === "access_changed") return recheck(event.channel);
    server?.publish(topic, bytes);
  });
  const recheck = async (channelId: string) => {
    for (const ws of sockets.all()) {
      if (!ws.data.channels.has(channelId)) continue;
      try {
        await subscribeChannel(deps, ws.data.actor!, channelId);
      } catch {
        leave(ws, channelId, "access_lost");
      }
    }
  };

  // This instance's pub/sub link was down and it could not re-read what its channel missed: the sockets on it
  // reconnect and subscribe with `since` (the client library does), which replays from the database.
  fanout.onMissedEvents((topic) => {
    const channelId = topic.slice("channel:".length);
    for (const ws of sockets.all()) {
      if (ws.data.channels.has(channelId))
        ws.close(closeCodes.tryAgainLater, "events may have been missed: reconnect and subscribe with since");
    }
  });

  // An agent removed from channels (it left the server, or was banned) on any instance: its sockets here leave them.
  fanout.onControl((control) => {
    if (control.type !== "unsubscribe") return;
    for (const ws of sockets.of(control.agent_id)) for (const c of control.channels) leave(ws, c, control.reason);
  });

  return {
    attach(s) {
      server = s;
    },
    leave: (ws, channelId, reason) => leave(ws, channelId, reason),
    async subscribe(ws, actor, channelId, since) {
      if (ws.data.channels.has(channelId)) {
        send(ws, { op: "subscribed", channel: channelId });
        return;
      }
      if (ws.data.channels.size >= maxSubscriptions)
        throw new AppError("limit_reached", `at most ${maxSubscriptions} channels per connection`);
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
            await watchServer(ws, context.server_id);
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
        if (current()) leave(ws, channelId, "error", !told);
        throw e;
      }
      if (!current()) seam.end();
    },
    closed(ws) {
      for (const seam of ws.data.seams.values()) seam.end?.();
      for (const channelId of ws.data.channels.keys()) fanout.release(channelTopic(channelId));
      for (const serverId of ws.data.servers.keys()) fanout.release(presenceTopic(serverId));
    },
  };
}
