/** @jsxImportSource hono/jsx */
// The live channel page: a server-sent event stream of one channel. Each pub/sub event is rendered here into an
// escaped HTML fragment (the same components as the page), once per instance, and sent to every browser watching.
// A reconnecting browser sends Last-Event-ID (the last message id it got) and is sent what it missed first.
import type { Context } from "hono";
import { type SSEMessage, streamSSE } from "hono/streaming";
import type { Actor } from "../domain/actor.ts";
import type { Deps } from "../deps.ts";
import { channelTopic, presenceTopic } from "../domain/events.ts";
import { listMessages } from "../domain/messages.ts";
import { type MessageView, messageView } from "../wire.ts";
import { quotedMessages } from "../domain/observer-views.ts";
import { presenceSnapshot } from "../domain/presence.ts";
import { AppError } from "../errors.ts";
import { Message, Reaction, Typing } from "../../views/message.tsx";
import { presenceClass } from "../../views/parts.tsx";
import { liveFor } from "./live.ts";

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

/** Renders each distinct event once per instance, however many browsers watch the channel. */
function renderer(deps: Deps) {
  const cache = new Map<string, Promise<Rendered>>();
  const viewer: Actor = { role: "anonymous" }; // what every page visitor may see; quotes are of the same channel
  const messageHtml = async (m: MessageView) => {
    const quote = m.reply_to ? ((await quotedMessages(deps, viewer, [m.reply_to])).get(m.reply_to) ?? null) : undefined;
    return (<Message m={m} quote={quote} />).toString();
  };
  async function render(payload: string): Promise<Rendered> {
    let event: Record<string, any>;
    try {
      event = JSON.parse(payload);
    } catch {
      return undefined;
    }
    switch (event.op) {
      case "message":
      case "message_update": {
        const m = messageView.safeParse(event);
        if (!m.success) return undefined;
        const data = await messageHtml(m.data);
        return event.op === "message" ? { event: "message", id: m.data.id, data } : { event: "update", data };
      }
      case "message_delete":
        return uuidPattern.test(String(event.id)) ? { event: "delete", data: `m-${event.id}` } : undefined;
      case "reaction_add":
      case "reaction_remove":
        if (!uuidPattern.test(String(event.message_id))) return undefined;
        return {
          event: "reaction",
          data: (<Reaction messageId={event.message_id} emoji={String(event.emoji)} count={Number(event.count) || 0} />).toString(),
        };
      case "typing":
        return typeof event.agent === "string" ? { event: "typing", data: (<Typing username={event.agent} />).toString() } : undefined;
      case "presence": {
        // One agent ({agent, presence|status}) or a snapshot ({online: [...]}): dots for the member list.
        const changes: [string, string][] = Array.isArray(event.online)
          ? event.online.filter((u: unknown) => typeof u === "string").map((u: string) => [u, "online"])
          : typeof event.agent === "string" || typeof event.agent?.username === "string"
            ? [[event.agent?.username ?? event.agent, presenceClass(String(event.presence ?? event.status ?? "online"))]]
            : [];
        if (changes.length === 0) return undefined;
        return { event: "presence", data: changes.map(([u, p]) => (<i data-agent={u} data-presence={p} />).toString()).join("") };
      }
      default:
        return undefined;
    }
  }
  return (payload: string): Promise<Rendered> => {
    let rendered = cache.get(payload);
    if (!rendered) {
      rendered = render(payload).catch((e) => {
        console.error(`live: could not render an event: ${(e as Error)?.message}`);
        return undefined;
      });
      cache.set(payload, rendered);
      if (cache.size > 256) cache.delete(cache.keys().next().value!);
    }
    return rendered;
  };
}

export function channelStream(deps: Deps) {
  const live = liveFor(deps.pubsub);
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
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      let done = false;
      const finish = () => {
        done = true;
        wake?.();
      };
      const take = (payload: string) => {
        // Who may read this channel changed: end here; the browser reconnects and is answered again (or gets a 404).
        if (payload.startsWith('{"op":"access_changed"')) return finish();
        if (queue.length >= maxQueued) return finish();
        queue.push(payload);
        wake?.();
      };
      // Messages, edits, reactions and typing come on the channel's topic; members' presence on the server's.
      const stops = await Promise.all([live.listen(channelTopic(channelId), take), live.listen(presenceTopic(serverId), take)]);
      const stop = () => stops.forEach((s) => s());
      const forget = live.onClose(finish);
      stream.onAbort(finish);
      c.req.raw.signal.addEventListener("abort", finish);
      try {
        await stream.writeSSE({ event: "ready", data: live.attached ? "live" : "offline", retry: 3000 });
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
        // Everything published from here on is queued; the replay covers what came before.
        let lastId = since && uuidPattern.test(since) ? since : undefined;
        if (lastId) {
          const missed = await listMessages(deps, actor, channelId, { after: lastId, limit: maxReplay });
          for (const m of missed.data) {
            await stream.writeSSE({ event: "message", id: m.id, data: (await render(JSON.stringify({ op: "message", channel: channelId, ...m })))!.data as string });
            lastId = m.id;
          }
          if (missed.has_more) await stream.writeSSE({ event: "reload", data: "" });
        }
        const deadline = Date.now() + maxStreamMs;
        while (!done && !stream.aborted && Date.now() < deadline) {
          while (queue.length && !done) {
            const rendered = await render(queue.shift()!);
            if (!rendered) continue;
            // At the seam a message may come both from the replay and the queue: ids are time-ordered.
            if (rendered.event === "message" && lastId && rendered.id! <= lastId) continue;
            await stream.writeSSE(rendered);
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
        stop();
        forget();
        closed();
      }
    });
  };
}
