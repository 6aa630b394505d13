// Local fan-out: events arrive from pub/sub (this instance's or another's) and go to this instance's sockets
// through Bun's native topics, serialized once. It also lets a subscribing socket catch every event published
// while its replay from the database is being read, so there is no gap and no duplicate at the seam.
// When the pub/sub link itself was down (Redis restarted), the instance re-reads from the database the messages its
// channels may have missed and delivers the ones it has not delivered yet, to sockets and browsers alike.
import type { Server, ServerWebSocket } from "bun";
import type { Deps } from "../deps.ts";
import { messageFrame, missedMessages } from "../domain/messages.ts";
import { firstIdAt } from "../lib/ids.ts";
import { liveFor } from "../pages/live.ts";

/**
 * How long before a lost pub/sub link the re-read starts: a message whose id was made (its transaction began) up to
 * this long before it was published is still found. Ids delivered in that span are remembered, so none goes twice.
 */
export const gapMarginMs = 5_000;
const missedPage = 500;
/** Beyond this many missed messages in one channel the rest is left to clients resuming with `since`. */
const maxMissedPerChannel = 5_000;

export type Fanout = {
  attach(server: Server<any>): void;
  /**
   * Makes sure this instance receives `topic` (counted per socket). Resolves once the subscription is live; when it
   * fails the hold still counts, and the caller releases it as it would have.
   */
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
  /** Called with a channel topic whose events were lost in a pub/sub outage and could not be re-read: its sockets resume. */
  onMissedEvents(handle: (topic: string) => void): void;
  /** Receives the control topic's messages (instructions to gateways, never forwarded to sockets as they are). */
  onControl(topic: string, handle: (payload: string) => void): Promise<void>;
};

export function createFanout(deps: Deps): Fanout {
  const { pubsub } = deps;
  let server: Server<any> | undefined;
  const held = new Map<string, number>();
  /** When each held topic was first held here: nothing published before that is this instance's to re-deliver. */
  const heldSince = new Map<string, number>();
  /** Message ids delivered lately per channel topic, oldest first; kept while the link is down or being caught up. */
  const recent = new Map<string, { ids: Set<string>; order: { id: string; at: number }[]; head: number }>();
  let keepRecent = 0;
  /** The subscription of each held topic, which every holder waits for. */
  const subscriptions = new Map<string, Promise<void>>();
  const buffers = new Map<string, Map<ServerWebSocket<any>, string[]>>();

  const control = new Map<string, (payload: string) => void>();

  // Browsers watching channel pages (server-sent events) hear the same deliveries as sockets do.
  const live = liveFor(pubsub);

  let accessChanged: (topic: string) => void = () => {};
  let missedEvents: (topic: string) => void = () => {};

  const remember = (topic: string, id: string) => {
    let seen = recent.get(topic);
    if (!seen) recent.set(topic, (seen = { ids: new Set(), order: [], head: 0 }));
    const now = Date.now();
    seen.ids.add(id);
    seen.order.push({ id, at: now });
    if (keepRecent > 0) return;
    const { order } = seen;
    while (seen.head < order.length && order[seen.head].at < now - gapMarginMs) seen.ids.delete(order[seen.head++].id);
    if (seen.head > 1024 && seen.head * 2 > order.length) seen.order = order.slice(seen.head), (seen.head = 0);
  };

  /**
   * Channels being caught up after a pub/sub outage, with the live events that arrived meanwhile: those go out after
   * the missed messages, so a client sees ids in order and its `since` never passes a message still to come.
   */
  let heldBack: Map<string, string[]> | undefined;

  const deliver = (topic: string, payload: string) => {
    const waitingTurn = heldBack?.get(topic);
    if (waitingTurn) return void waitingTurn.push(payload);
    deliverNow(topic, payload);
  };

  const deliverNow = (topic: string, payload: string) => {
    const handle = control.get(topic);
    if (handle) return handle(payload);
    if (payload.startsWith('{"op":"access_changed"')) {
      // Not for sockets as such: each one re-checks its access; browser streams end and reconnect (or get a 404).
      accessChanged(topic);
      live.deliver(topic, payload);
      return;
    }
    if (payload.startsWith('{"op":"message",')) {
      const id = messageIdOf(payload);
      if (id) {
        if (keepRecent > 0 && recent.get(topic)?.ids.has(id)) return; // already re-delivered from the database
        remember(topic, id);
      }
    }
    server?.publish(topic, payload);
    live.deliver(topic, payload);
    const waiting = buffers.get(topic);
    if (waiting) for (const list of waiting.values()) list.push(payload);
  };
  pubsub.onDelivery(deliver);

  // The link was down from `lostAt` until now: whatever was published meanwhile never came. Every channel held here
  // since before then is read again from the database and what it has not delivered goes out now, in id order.
  pubsub.onLinkChange(async (change, lostAt) => {
    if (change === "lost") {
      keepRecent++;
      return;
    }
    let missed = 0;
    const behind: string[] = [];
    let reason = "";
    const due = [...heldSince].filter(([topic, since]) => topic.startsWith("channel:") && since <= lostAt);
    const backlog = (heldBack = new Map(due.map(([topic]) => [topic, [] as string[]])));
    // The channel's turn is over: what arrived live meanwhile goes out now (minus what the database already gave).
    const takeTurn = (topic: string) => {
      const queued = backlog.get(topic) ?? [];
      backlog.delete(topic);
      for (const payload of queued) deliverNow(topic, payload);
    };
    try {
      for (const [topic, since] of due) {
        const channelId = topic.slice("channel:".length);
        let after = firstIdAt(Math.max(since, lostAt - gapMarginMs));
        try {
          let complete = false;
          for (let n = 0; n < maxMissedPerChannel && !complete; n += missedPage) {
            const page = await missedMessages(deps, channelId, after, missedPage);
            for (const m of page.data) {
              if (!held.has(topic) || recent.get(topic)?.ids.has(m.id)) continue;
              deliverNow(topic, JSON.stringify(messageFrame(m)));
              missed++;
            }
            complete = !page.has_more || page.data.length === 0;
            if (!complete) after = page.data.at(-1)!.id;
          }
          if (!complete) (behind.push(topic), (reason ||= `over ${maxMissedPerChannel} messages missed`));
        } catch (e) {
          // A channel deleted meanwhile has nothing to catch up.
          if ((e as { code?: string }).code !== "not_found") {
            behind.push(topic);
            reason ||= String((e as Error)?.message ?? e).split("\n")[0].slice(0, 200);
          }
        } finally {
          takeTurn(topic);
        }
      }
      if (missed) console.error(`fan-out: re-delivered ${missed} messages that were published while Redis was unreachable`);
      if (behind.length) {
        // Not caught up (the database is down too, or too much was missed): the clients resume on their own instead.
        console.error(`fan-out: could not catch up ${behind.length} channels (${reason}); their sockets are closed with 1013 to resume with since`);
        for (const topic of behind) {
          missedEvents(topic);
          // Browser streams end on this event and reconnect with Last-Event-ID, which replays from the database.
          live.deliver(topic, JSON.stringify({ op: "access_changed", channel: topic.slice("channel:".length) }));
        }
      }
    } finally {
      for (const topic of [...backlog.keys()]) takeTurn(topic);
      if (heldBack === backlog) heldBack = undefined;
      // A publish that was held back by the outage may still arrive late: it is recognised for a while longer.
      setTimeout(() => keepRecent--, gapMarginMs).unref?.();
    }
  });

  const fanout: Fanout = {
    attach(s) {
      server = s;
    },
    async hold(topic) {
      const n = held.get(topic) ?? 0;
      held.set(topic, n + 1);
      if (n === 0) heldSince.set(topic, Date.now());
      let subscribed = subscriptions.get(topic);
      if (!subscribed) {
        const attempt = pubsub.subscribe(topic);
        subscriptions.set(topic, (subscribed = attempt));
        // Failed (Redis is down): forgotten, so that the next holder tries again; the pub/sub renews it when it is back.
        attempt.catch(() => subscriptions.get(topic) === attempt && subscriptions.delete(topic));
      }
      await subscribed;
    },
    release(topic) {
      const n = (held.get(topic) ?? 0) - 1;
      if (n > 0) {
        held.set(topic, n);
        return;
      }
      held.delete(topic);
      heldSince.delete(topic);
      subscriptions.delete(topic);
      recent.delete(topic);
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
    onMissedEvents(handle) {
      missedEvents = handle;
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

/** The id of a serialized message frame (its first "id" field), or undefined for other events. */
export function messageIdOf(payload: string): string | undefined {
  if (!payload.startsWith('{"op":"message",')) return undefined;
  return /"id":"([0-9a-f-]{36})"/.exec(payload)?.[1];
}
