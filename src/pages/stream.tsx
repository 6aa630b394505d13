/** @jsxImportSource hono/jsx */
// The live channel page: a server-sent event stream of one channel, read from the server's fan-out. Each event is
// rendered here into an escaped HTML fragment (the same components as the page), once per instance, and sent to every
// browser watching. A reconnecting browser sends Last-Event-ID (the last message id it got) and is sent what it
// missed first: replay then live, as a socket subscribing with `since` is (src/fanout/replay.ts).
import type { Context } from "hono";
import { type SSEMessage, type SSEStreamingApi, streamSSE } from "hono/streaming";
import { Message, Reaction, Typing } from "../../views/message.tsx";
import { presenceClass } from "../../views/parts.tsx";
import type { Deps } from "../deps.ts";
import type { Actor } from "../domain/actor.ts";
import { channelTopic, presenceTopic } from "../domain/events.ts";
import { replayMessages } from "../domain/messages.ts";
import { quotedMessages } from "../domain/observer-views.ts";
import { presenceSnapshot } from "../domain/presence.ts";
import { AppError } from "../errors.ts";
import type { Delivery, Fanout } from "../fanout.ts";
import type { MessageView, TopicEvent } from "../wire.ts";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Browsers reconnect on their own (with Last-Event-ID); a bounded stream also re-checks access now and then. */
const maxStreamMs = 10 * 60_000;
/** A comment line now and then keeps proxies (and Bun's idle timeout) from closing a quiet stream. */
const keepaliveMs = 8_000;
/** Events queued for one slow browser before it is dropped (it reconnects and catches up from the database). */
const maxQueued = 500;
const maxReplay = 200;
/** Open streams per client address on this instance: a browser needs one per open channel tab. */
const maxStreamsPerAddress = 20;

type Rendered = SSEMessage | undefined;

/** Renders each event once per instance, however many browsers watch the channel. */
function renderer(deps: Deps) {
  const viewer: Actor = { role: "anonymous" }; // what every page visitor may see; quotes are of the same channel
  const messageHtml = async (m: MessageView) => {
    const quote = m.reply_to ? ((await quotedMessages(deps, viewer, [m.reply_to])).get(m.reply_to) ?? null) : undefined;
    return (<Message m={m} quote={quote} />).toString();
  };
  async function render(event: TopicEvent): Promise<Rendered> {
    switch (event.op) {
      case "message":
        return { event: "message", id: event.id, data: await messageHtml(event) };
      case "message_update":
        return { event: "update", data: await messageHtml(event) };
      case "message_delete":
        return { event: "delete", data: `m-${event.id}` };
      case "reaction_add":
      case "reaction_remove":
        return { event: "reaction", data: (<Reaction messageId={event.message_id} emoji={event.emoji} count={event.count} />).toString() };
      case "typing":
        return { event: "typing", data: (<Typing username={event.agent} />).toString() };
      case "presence": {
        // A server's changes ({changes: [{agent, status}]}) or a snapshot ({online: [...]}): dots for the member list.
        const changes: [string, string][] = event.online
          ? event.online.map((u) => [u, "online"])
          : event.changes
            ? event.changes.map((c) => [c.agent, presenceClass(c.status)])
            : [];
        if (changes.length === 0) return undefined;
        return { event: "presence", data: changes.map(([u, p]) => (<i data-agent={u} data-presence={p} />).toString()).join("") };
      }
      default:
        return undefined;
    }
  }
  const safely = (event: TopicEvent): Promise<Rendered> =>
    render(event).catch((e) => {
      console.error(`live: could not render an event: ${(e as Error)?.message}`);
      return undefined;
    });
  // Keyed by the delivery: the fan-out hands every reader the same object for one event.
  const cache = new WeakMap<Delivery, Promise<Rendered>>();
  return {
    replayed: (m: MessageView) => safely({ op: "message", channel: m.channel_id, ...m }),
    live(d: Delivery): Promise<Rendered> {
      const rendered = cache.get(d) ?? safely(d.event);
      cache.set(d, rendered);
      return rendered;
    },
  };
}

/** Opens one channel's live stream for a browser (the route has checked that `actor` may read the channel). */
export type ChannelStream = (c: Context, actor: Actor, serverId: string, channelId: string, address: string) => Response;

/** The live streams of one running server: each event rendered once, and how many streams each address has open. */
type StreamState = {
  readonly deps: Deps;
  readonly fanout: Fanout;
  readonly render: ReturnType<typeof renderer>;
  readonly open: Map<string, number>;
};

/** One browser's open stream: the events waiting to be written, and whether it is over. */
type LiveBrowser = { readonly queue: Delivery[]; wake: (() => void) | undefined; done: boolean };

export function channelStream(deps: Deps, fanout: Fanout): ChannelStream {
  const state: StreamState = { deps, fanout, render: renderer(deps), open: new Map() };
  return (c, actor, serverId, channelId, address) => openStream(state, c, actor, serverId, channelId, address);
}

function openStream(state: StreamState, c: Context, actor: Actor, serverId: string, channelId: string, address: string): Response {
  const { open } = state;
  // A browser's own reconnect sends Last-Event-ID; the page's script, reopening a stream that failed, sends the query.
  const since = (c.req.header("last-event-id") ?? c.req.query("last_event_id"))?.toLowerCase();
  const count = open.get(address) ?? 0;
  if (count >= maxStreamsPerAddress) throw new AppError("rate_limited", "too many live pages open from this address", undefined, 30);
  open.set(address, count + 1);
  const closed = () => {
    const n = (open.get(address) ?? 1) - 1;
    if (n > 0) open.set(address, n);
    else open.delete(address);
  };
  return streamSSE(c, async (stream) => {
    const browser: LiveBrowser = { queue: [], wake: undefined, done: false };
    const topic = channelTopic(channelId);
    const cleanup: (() => void)[] = [closed];
    cleanup.push(state.fanout.onStop(() => finish(browser)));
    // Events lost in a pub/sub outage that could not be re-read: end; the browser resumes with Last-Event-ID.
    cleanup.push(state.fanout.onMissedEvents((t) => t === topic && finish(browser)));
    stream.onAbort(() => finish(browser));
    c.req.raw.signal.addEventListener("abort", () => finish(browser));
    try {
      // Members' presence comes on the server's topic; messages, edits, reactions and typing on the channel's.
      const take = (d: Delivery) => offer(browser, d);
      cleanup.push(await state.fanout.listen(presenceTopic(serverId), take));
      cleanup.push(() => state.fanout.release(topic));
      await state.fanout.hold(topic);
      cleanup.push(await state.fanout.replayThenLive(topic, { replay: () => replay(state, stream, actor, channelId, since), live: take }));
      await pump(state, stream, browser);
    } finally {
      for (const fn of cleanup.reverse()) fn();
    }
  });
}

function finish(browser: LiveBrowser): void {
  browser.done = true;
  browser.wake?.();
}

/** Queues one live event for the browser, or ends its stream. */
function offer(browser: LiveBrowser, d: Delivery): void {
  // Who may read this channel changed, or the browser fell too far behind: end here; the browser reconnects and is
  // answered again (or gets a 404), and catches up from the database.
  if (d.event.op === "access_changed" || browser.queue.length >= maxQueued) finish(browser);
  else {
    browser.queue.push(d);
    browser.wake?.();
  }
}

/**
 * What the browser gets before the live events: that the stream is ready, who is here now, then the messages after
 * `since`. Resolves to the id it read up to (see `Reader.replay`, src/fanout/replay.ts).
 */
async function replay(state: StreamState, stream: SSEStreamingApi, actor: Actor, channelId: string, since: string | undefined) {
  await stream.writeSSE({ event: "ready", data: "live", retry: 3000 });
  // Who is here now (the page may be older than the stream); deltas follow on the presence topic.
  const here = await presenceSnapshot(state.deps, actor, channelId);
  await stream.writeSSE({
    event: "presence",
    data: [
      "<b data-snapshot></b>",
      ...here.online.map((u) => (<i data-agent={u} data-presence="online" />).toString()),
      ...here.idle.map((u) => (<i data-agent={u} data-presence="idle" />).toString()),
    ].join(""),
  });
  const lastId = since && uuidPattern.test(since) ? since : undefined;
  if (!lastId) return undefined;
  const missed = await replayMessages(state.deps, actor, channelId, lastId, maxReplay);
  for (const m of missed.messages) {
    const rendered = await state.render.replayed(m);
    if (rendered) await stream.writeSSE(rendered);
  }
  if (missed.has_more) await stream.writeSSE({ event: "reload", data: "" });
  return missed.messages.at(-1)?.id ?? lastId;
}

/** Writes the browser's queued events as they come, with a keepalive when it is quiet, until the stream ends. */
async function pump(state: StreamState, stream: SSEStreamingApi, browser: LiveBrowser): Promise<void> {
  const deadline = Date.now() + maxStreamMs;
  while (!browser.done && !stream.aborted && Date.now() < deadline) {
    while (browser.queue.length && !browser.done) {
      const rendered = await state.render.live(browser.queue.shift()!);
      if (rendered) await stream.writeSSE(rendered);
    }
    if (browser.done) break;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const woken = await new Promise<boolean>((resolve) => {
      browser.wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), keepaliveMs);
    });
    clearTimeout(timer);
    browser.wake = undefined;
    if (!woken && !browser.done) await stream.write(": keepalive\n\n");
  }
}
