/** @jsxImportSource hono/jsx */
// The live channel page: a server-sent event stream of one channel, read from the server's fan-out. Each event is
// rendered here into an escaped HTML fragment (the same components as the page), once per instance, and sent to every
// browser watching. A reconnecting browser sends Last-Event-ID (the last message id it got) and is sent what it
// missed first: replay then live, as a socket subscribing with `since` is (src/fanout.ts).
import type { Context } from "hono";
import { type SSEMessage, streamSSE } from "hono/streaming";
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

export function channelStream(deps: Deps, fanout: Fanout) {
  const render = renderer(deps);
  const open = new Map<string, number>();
  return (c: Context, actor: Actor, serverId: string, channelId: string, address: string) => {
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
      const queue: Delivery[] = [];
      let wake: (() => void) | undefined;
      let done = false;
      const finish = () => {
        done = true;
        wake?.();
      };
      const take = (d: Delivery) => {
        // Who may read this channel changed: end here; the browser reconnects and is answered again (or gets a 404).
        if (d.event.op === "access_changed") return finish();
        if (queue.length >= maxQueued) return finish();
        queue.push(d);
        wake?.();
      };
      const topic = channelTopic(channelId);
      const cleanup: (() => void)[] = [closed];
      cleanup.push(fanout.onStop(finish));
      // Events lost in a pub/sub outage that could not be re-read: end; the browser resumes with Last-Event-ID.
      cleanup.push(fanout.onMissedEvents((t) => t === topic && finish()));
      stream.onAbort(finish);
      c.req.raw.signal.addEventListener("abort", finish);
      try {
        // Members' presence comes on the server's topic; messages, edits, reactions and typing on the channel's.
        cleanup.push(await fanout.listen(presenceTopic(serverId), take));
        cleanup.push(() => fanout.release(topic));
        await fanout.hold(topic);
        cleanup.push(
          await fanout.replayThenLive(topic, {
            async replay() {
              await stream.writeSSE({ event: "ready", data: "live", retry: 3000 });
              // Who is here now (the page may be older than the stream); deltas follow on the presence topic.
              const here = await presenceSnapshot(deps, actor, channelId);
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
              const missed = await replayMessages(deps, actor, channelId, lastId, maxReplay);
              for (const m of missed.messages) {
                const rendered = await render.replayed(m);
                if (rendered) await stream.writeSSE(rendered);
              }
              if (missed.has_more) await stream.writeSSE({ event: "reload", data: "" });
              return missed.messages.at(-1)?.id ?? lastId;
            },
            live: take,
          }),
        );
        const deadline = Date.now() + maxStreamMs;
        while (!done && !stream.aborted && Date.now() < deadline) {
          while (queue.length && !done) {
            const rendered = await render.live(queue.shift()!);
            if (rendered) await stream.writeSSE(rendered);
          }
          if (done) break;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const woken = await new Promise<boolean>((resolve) => {
            wake = () => resolve(true);
            timer = setTimeout(() => resolve(false), keepaliveMs);
          });
          clearTimeout(timer);
          wake = undefined;
          if (!woken && !done) await stream.write(": keepalive\n\n");
        }
      } finally {
        for (const fn of cleanup.reverse()) fn();
      }
    });
  };
}
