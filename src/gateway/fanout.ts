// Local fan-out: events arrive from pub/sub (this instance's or another's) and go to this instance's sockets
// through Bun's native topics, serialized once. It also lets a subscribing socket catch every event published
// while its replay from the database is being read, so there is no gap and no duplicate at the seam.
import type { Server, ServerWebSocket } from "bun";
import { liveFor } from "../pages/live.ts";
import type { PubSub } from "../pubsub/pubsub.ts";

export type Fanout = {
  attach(server: Server<any>): void;
  /** Makes sure this instance receives `topic` (counted per socket). Resolves once the subscription is live. */
  hold(topic: string): Promise<void>;
  release(topic: string): void;
  /** Starts buffering `topic` for one socket until `join` is called. */
  buffer(ws: ServerWebSocket<any>, topic: string): string[];
  /** Subscribes the socket to the Bun topic and hands it what was buffered, in one synchronous step. */
  join(ws: ServerWebSocket<any>, topic: string, keep: (payload: string) => boolean): void;
  /** Forgets the buffers of a socket that went away mid-subscribe. */
  drop(ws: ServerWebSocket<any>): void;
  /** Called with the topic when a channel's access may have narrowed (an `access_changed` event on it). */
  onAccessChanged(handle: (topic: string) => void): void;
  /** Receives the control topic's messages (instructions to gateways, never forwarded to sockets as they are). */
  onControl(topic: string, handle: (payload: string) => void): Promise<void>;
};

export function createFanout(pubsub: PubSub): Fanout {
  let server: Server<any> | undefined;
  const held = new Map<string, number>();
  const buffers = new Map<string, Map<ServerWebSocket<any>, string[]>>();

  const control = new Map<string, (payload: string) => void>();

  // Browsers watching channel pages (server-sent events) hear the same deliveries as sockets do.
  const live = liveFor(pubsub);

  let accessChanged: (topic: string) => void = () => {};

  pubsub.onDelivery((topic, payload) => {
    const handle = control.get(topic);
    if (handle) return handle(payload);
    if (payload.startsWith('{"op":"access_changed"')) {
      // Not for sockets as such: each one re-checks its access; browser streams end and reconnect (or get a 404).
      accessChanged(topic);
      live.deliver(topic, payload);
      return;
    }
    server?.publish(topic, payload);
    live.deliver(topic, payload);
    const waiting = buffers.get(topic);
    if (waiting) for (const list of waiting.values()) list.push(payload);
  });

  const fanout: Fanout = {
    attach(s) {
      server = s;
    },
    async hold(topic) {
      const n = held.get(topic) ?? 0;
      held.set(topic, n + 1);
      if (n === 0) await pubsub.subscribe(topic);
    },
    release(topic) {
      const n = (held.get(topic) ?? 0) - 1;
      if (n > 0) {
        held.set(topic, n);
        return;
      }
      held.delete(topic);
      pubsub.unsubscribe(topic).catch(() => {});
    },
    buffer(ws, topic) {
      let waiting = buffers.get(topic);
      if (!waiting) buffers.set(topic, (waiting = new Map()));
      const list: string[] = [];
      waiting.set(ws, list);
      return list;
    },
    join(ws, topic, keep) {
      const waiting = buffers.get(topic);
      const list = waiting?.get(ws) ?? [];
      waiting?.delete(ws);
      if (waiting?.size === 0) buffers.delete(topic);
      ws.subscribe(topic);
      for (const payload of list) if (keep(payload)) ws.send(payload);
    },
    onAccessChanged(handle) {
      accessChanged = handle;
    },
    async onControl(topic, handle) {
      control.set(topic, handle);
      await pubsub.subscribe(topic);
    },
    drop(ws) {
      for (const [topic, waiting] of buffers) {
        waiting.delete(ws);
        if (waiting.size === 0) buffers.delete(topic);
      }
    },
  };
  live.attach(fanout);
  return fanout;
}
