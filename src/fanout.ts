// The fan-out of one running server, built once in server.ts and handed to the gateway and the pages. Events arrive
// from pub/sub (published on this instance or another), are parsed once into the wire module's union and handed,
// together with their serialized bytes, to every reader here: the gateway (which passes them to its sockets through
// Bun's topics) and the browsers' live streams. It holds each topic on the pub/sub while a reader needs it, joins a
// reader's replay from the database to the live events (`replayThenLive`), and when the pub/sub link itself was down
// (Redis restarted) re-reads from the database the messages its channels may have missed and delivers the ones it has
// not delivered yet, to sockets and browsers alike.
import type { Deps } from "./deps.ts";
import { type Control, control, controlTopic } from "./domain/events.ts";
import { messageFrame } from "./domain/message-view.ts";
import { missedMessages } from "./domain/messages.ts";
import { firstIdAt } from "./lib/ids.ts";
import { type Listeners, listeners } from "./lib/listeners.ts";
import { decodeEvent, encodeEvent, type TopicEvent } from "./wire.ts";

/**
 * How long before a lost pub/sub link the re-read starts, and how long a replay's seam stays guarded: a message's
 * event is taken to reach every instance within this long of its id being made (the id is made under the channel's
 * lock just before the insert; the event is published right after the commit).
 */
export const gapMarginMs = 5_000;
const missedPage = 500;
/** Beyond this many missed messages in one channel the rest is left to clients resuming with `since`. */
const maxMissedPerChannel = 5_000;

/** One event as this instance received it: parsed once, serialized once, the same object for every reader. */
export type Delivery = { readonly topic: string; readonly event: TopicEvent; readonly bytes: string };
type Listener = (d: Delivery) => void;

/** One reader joining a topic's live events after reading what it missed; see `replayThenLive`. */
export type Reader = {
  /**
   * Sends the reader what comes before the live events: whatever it needs first, then the stored messages after its
   * `since`, read from the database only now. Resolves to the id it has read up to (the last message sent, else its
   * `since`), or undefined when it asked for no replay.
   */
  replay(): Promise<string | undefined>;
  /** Takes one live event. */
  live(d: Delivery): void;
  /**
   * When given, the reader takes live events its own way once the seam is safe (a socket joins Bun's topic): called
   * in the same synchronous step in which `live` stops being called.
   */
  join?(): void;
};

export type Fanout = {
  /** Resolves once this instance receives control instructions. */
  ready: Promise<void>;
  /** Every event this instance receives, whatever its topic, in the order it delivers them; returns the remover. */
  onEvent(listener: Listener): () => void;
  /**
   * Makes sure this instance receives `topic` (counted per holder). Resolves once the subscription is live; when it
   * fails the hold still counts, and the caller releases it as it would have.
   */
  hold(topic: string): Promise<void>;
  release(topic: string): void;
  /** Holds `topic` and passes its events to `listener`; resolves (once subscribed) to the function that stops both. */
  listen(topic: string, listener: Listener): Promise<() => void>;
  replayThenLive(topic: string, reader: Reader): Promise<() => void>;
  /** Told a channel topic whose events were lost in a pub/sub outage and could not be re-read: its readers resume. */
  onMissedEvents(listener: (topic: string) => void): () => void;
  /** Told every instruction on the control topic (to gateways; never forwarded to sockets as it is). */
  onControl(listener: (instruction: Control) => void): () => void;
  /** Told when the server stops: open streams end (they would otherwise hold a graceful stop). */
  onStop(listener: () => void): () => void;
  stop(): void;
};

export function createFanout(deps: Deps): Fanout {
  const { pubsub } = deps;
  const held = new Map<string, number>();
  /** When each held topic was first held here: nothing published before that is this instance's to re-deliver. */
  const heldSince = new Map<string, number>();
  /** Message ids delivered lately per channel topic, oldest first; kept while the link is down or being caught up. */
  const recent = new Map<string, { ids: Set<string>; order: { id: string; at: number }[]; head: number }>();
  let keepRecent = 0;
  /** The subscription of each held topic, which every holder waits for. */
  const subscriptions = new Map<string, Promise<void>>();
  const everyEvent = listeners<[Delivery]>("fan-out");
  const byTopic = new Map<string, Listeners<[Delivery]>>();
  const missed = listeners<[string]>("fan-out (missed events)");
  const controls = listeners<[Control]>("fan-out (control)");
  const stops = listeners<[]>("fan-out (stop)");

  const listenTopic = (topic: string, listener: Listener) => {
    const list = byTopic.get(topic) ?? listeners<[Delivery]>("fan-out");
    byTopic.set(topic, list);
    const remove = list.add(listener);
    return () => {
      remove();
      if (list.size === 0 && byTopic.get(topic) === list) byTopic.delete(topic);
    };
  };

  const remember = (topic: string, id: string) => {
    const seen = recent.get(topic) ?? { ids: new Set<string>(), order: [], head: 0 };
    recent.set(topic, seen);
    const now = Date.now();
    seen.ids.add(id);
    seen.order.push({ id, at: now });
    if (keepRecent > 0) return;
    const { order } = seen;
    while (seen.head < order.length && order[seen.head].at < now - gapMarginMs) seen.ids.delete(order[seen.head++].id);
    if (seen.head > 1024 && seen.head * 2 > order.length) {
      seen.order = order.slice(seen.head);
      seen.head = 0;
    }
  };

  /**
   * Channels held back from the moment the pub/sub link is lost until each is caught up, with the live events that
   * arrived meanwhile: those go out after the missed messages, so a client sees ids in order and its `since` never
   * passes a message still to come.
   */
  let heldBack: Map<string, Delivery[]> | undefined;

  const deliver = (d: Delivery) => {
    const waitingTurn = heldBack?.get(d.topic);
    if (waitingTurn) return void waitingTurn.push(d);
    deliverNow(d);
  };

  const deliverNow = (d: Delivery) => {
    if (d.event.op === "message") {
      if (keepRecent > 0 && recent.get(d.topic)?.ids.has(d.event.id)) return; // already re-delivered from the database
      remember(d.topic, d.event.id);
    }
    everyEvent.emit(d);
    byTopic.get(d.topic)?.emit(d);
  };

  pubsub.onMessage((topic, payload) => {
    if (topic === controlTopic) {
      const instruction = parseControl(payload);
      if (instruction) controls.emit(instruction);
      else console.error("fan-out: dropped a control message that is not one of its union");
      return;
    }
    const event = decodeEvent(payload);
    if (!event) return void console.error(`fan-out: dropped an event on ${topic} that is not one of the wire union`);
    deliver({ topic, event, bytes: payload });
  });

  // The link was down from `lostAt` until now: whatever was published meanwhile never came. Every channel held here
  // since before then is read again from the database and what it has not delivered goes out now, in id order.
  pubsub.onLinkChange(async (change, lostAt) => {
    if (change === "lost") {
      keepRecent++;
      // Held back from now, not from "restored": the link is renewed before it is reported restored, and a live event
      // let through in between would reach clients ahead of older messages still to be re-read.
      heldBack = new Map([...heldSince.keys()].filter((topic) => topic.startsWith("channel:")).map((topic) => [topic, []]));
      return;
    }
    let redelivered = 0;
    const behind: string[] = [];
    let reason = "";
    const due = [...heldSince].filter(([topic, since]) => topic.startsWith("channel:") && since <= lostAt);
    const backlog = heldBack ?? new Map<string, Delivery[]>();
    for (const [topic] of due) if (!backlog.has(topic)) backlog.set(topic, []);
    heldBack = backlog;
    // The channel's turn is over: what arrived live meanwhile goes out now (minus what the database already gave).
    const takeTurn = (topic: string) => {
      const queued = backlog.get(topic) ?? [];
      backlog.delete(topic);
      for (const d of queued) deliverNow(d);
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
              const event = messageFrame(m);
              deliverNow({ topic, event, bytes: encodeEvent(event) });
              redelivered++;
            }
            complete = !page.has_more || page.data.length === 0;
            if (!complete) after = page.data.at(-1)!.id;
          }
          if (!complete) {
            behind.push(topic);
            reason ||= `over ${maxMissedPerChannel} messages missed`;
          }
        } catch (e) {
          // A channel deleted meanwhile has nothing to catch up.
          if ((e as { code?: string }).code !== "not_found") {
            behind.push(topic);
            reason ||= String((e as Error)?.message ?? e)
              .split("\n")[0]
              .slice(0, 200);
          }
        } finally {
          takeTurn(topic);
        }
      }
      if (redelivered) console.error(`fan-out: re-delivered ${redelivered} messages that were published while Redis was unreachable`);
      if (behind.length) {
        // Not caught up (the database is down too, or too much was missed): the readers resume on their own instead,
        // sockets by reconnecting with `since`, browser streams with Last-Event-ID; both replay from the database.
        console.error(
          `fan-out: could not catch up ${behind.length} channels (${reason}); their sockets are closed with 1013 to resume with since`,
        );
        for (const topic of behind) missed.emit(topic);
      }
    } finally {
      for (const topic of [...backlog.keys()]) takeTurn(topic);
      if (heldBack === backlog) heldBack = undefined;
      // A publish that was held back by the outage may still arrive late: it is recognised for a while longer.
      setTimeout(() => keepRecent--, gapMarginMs).unref?.();
    }
  });

  const hold = async (topic: string) => {
    const n = held.get(topic) ?? 0;
    held.set(topic, n + 1);
    if (n === 0) heldSince.set(topic, Date.now());
    let subscribed = subscriptions.get(topic);
    if (!subscribed) {
      const attempt = pubsub.subscribe(topic);
      subscribed = attempt;
      subscriptions.set(topic, attempt);
      // Failed (Redis is down): forgotten, so that the next holder tries again; the pub/sub renews it when it is back.
      attempt.catch(() => subscriptions.get(topic) === attempt && subscriptions.delete(topic));
    }
    await subscribed;
  };
  const release = (topic: string) => {
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
  };

  return {
    ready: pubsub.subscribe(controlTopic),
    onEvent: everyEvent.add,
    hold,
    release,
    async listen(topic, listener) {
      const stopListening = listenTopic(topic, listener);
      try {
        await hold(topic);
      } catch (e) {
        stopListening();
        release(topic);
        throw e;
      }
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        stopListening();
        release(topic);
      };
    },

    /**
     * Replay then live: how a reader that missed events (a socket subscribing with `since`, a browser reconnecting
     * with Last-Event-ID) gets the stored messages first and the live events after them, with no gap and no duplicate
     * at the seam. The caller holds `topic` (a channel's) and releases it; the returned function ends the reading.
     *
     * The one ordering rule it rests on: in a channel, commit order is id order. postMessage takes the channel's
     * advisory lock, reads the newest id, inserts its message with an id above it (newIdAfter: even when this
     * machine's clock is behind) and holds the lock until it commits (src/domain/messages.ts, src/lib/ids.ts).
     * Events are published after the commit.
     *
     * - No gap: the reader's buffer opens, synchronously and on a topic this instance already receives, before
     *   `replay` reads the database. A message committed before that read is in the replay; one committed after it
     *   is published after the buffer opened, so it reaches the reader live.
     * - No duplicate: `replay` resolves to `upTo`, the id it read up to. A message it did not return committed after
     *   every one it did (it was not visible to the read), so by the rule its id is above `upTo`; a message event
     *   with an id at or below `upTo` is therefore one the reader has, and is dropped: from the buffer and from every
     *   live event for `gapMarginMs` after the replay (a replayed message's own event may still be on its way that
     *   long). Only messages are replayed, so only `message` events are dropped; an edit, reaction or deletion of a
     *   replayed message passes (applying it twice changes nothing). A reader with a `join` then joins; one without
     *   keeps the filter (it costs nothing there).
     * - A replay cut short (the reader is told to page on from `upTo`) still gets the live events meanwhile: messages
     *   above `upTo` may come both live and from paging; readers key messages by id.
     */
    async replayThenLive(topic, reader) {
      if (!held.has(topic)) throw new Error(`replayThenLive: ${topic} is not held`);
      let upTo: string | undefined;
      const have = (d: Delivery) => upTo !== undefined && d.event.op === "message" && d.event.id <= upTo;
      const buffered: Delivery[] = [];
      let take: Listener = (d) => buffered.push(d);
      const stopListening = listenTopic(topic, (d) => take(d));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const end = () => {
        clearTimeout(timer);
        stopListening();
      };
      try {
        upTo = await reader.replay();
      } catch (e) {
        end();
        throw e;
      }
      take = (d) => {
        if (!have(d)) reader.live(d);
      };
      for (const d of buffered) take(d);
      const { join } = reader;
      if (!join) return end;
      const joinNow = () => {
        end();
        join();
      };
      if (upTo === undefined) joinNow();
      else {
        timer = setTimeout(joinNow, gapMarginMs);
        timer.unref?.();
      }
      return end;
    },
    onMissedEvents: missed.add,
    onControl: controls.add,
    onStop: stops.add,
    stop() {
      stops.emit();
      stops.clear();
    },
  };
}

function parseControl(payload: string): Control | undefined {
  try {
    return control.parse(JSON.parse(payload));
  } catch {
    return undefined;
  }
}
