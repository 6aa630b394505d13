// Catching up after a pub/sub outage: the link was down from `lostAt` until it was restored, and whatever was published
// meanwhile never came. Every channel held here since before then is read again from the database and what this
// instance has not delivered goes out now, in id order, before the live events that arrived meanwhile.
import { messageFrame } from "../domain/message-view.ts";
import { missedMessages } from "../domain/messages.ts";
import { firstIdAt } from "../lib/ids.ts";
import { encodeEvent } from "../wire.ts";
import { deliverNow } from "./deliver.ts";
import { type Delivery, type FanoutState, gapMarginMs } from "./state.ts";

const missedPage = 500;
/** Beyond this many missed messages in one channel the rest is left to clients resuming with `since`. */
const maxMissedPerChannel = 5_000;

/** The link is lost: recent ids are kept from now on, and every held channel's live events wait for its catch-up. */
export function linkLost(state: FanoutState): void {
  state.keepRecent++;
  // Held back from now, not from "restored": the link is renewed before it is reported restored, and a live event
  // let through in between would reach clients ahead of older messages still to be re-read.
  state.heldBack = new Map([...state.heldSince.keys()].filter((topic) => topic.startsWith("channel:")).map((topic) => [topic, []]));
}

/** The link is back after being down since `lostAt`: each channel held since before then is caught up in turn. */
export async function linkRestored(state: FanoutState, lostAt: number): Promise<void> {
  let redelivered = 0;
  const behind: string[] = [];
  let reason = "";
  const due = [...state.heldSince].filter(([topic, since]) => topic.startsWith("channel:") && since <= lostAt);
  const backlog = state.heldBack ?? new Map<string, Delivery[]>();
  for (const [topic] of due) if (!backlog.has(topic)) backlog.set(topic, []);
  state.heldBack = backlog;
  try {
    for (const [topic, since] of due) {
      const caught = await catchUpChannel(state, topic, Math.max(since, lostAt - gapMarginMs));
      redelivered += caught.redelivered;
      if (caught.behind !== undefined) {
        behind.push(topic);
        reason ||= caught.behind;
      }
      takeTurn(state, backlog, topic);
    }
    if (redelivered) console.error(`fan-out: re-delivered ${redelivered} messages that were published while Redis was unreachable`);
    if (behind.length) {
      // Not caught up (the database is down too, or too much was missed): the readers resume on their own instead,
      // sockets by reconnecting with `since`, browser streams with Last-Event-ID; both replay from the database.
      console.error(
        `fan-out: could not catch up ${behind.length} channels (${reason}); their sockets are closed with 1013 to resume with since`,
      );
      for (const topic of behind) state.missed.emit(topic);
    }
  } finally {
    for (const topic of [...backlog.keys()]) takeTurn(state, backlog, topic);
    if (state.heldBack === backlog) state.heldBack = undefined;
    // A publish that was held back by the outage may still arrive late: it is recognised for a while longer.
    setTimeout(() => state.keepRecent--, gapMarginMs).unref?.();
  }
}

/**
 * Re-reads one channel's messages made since `from` (a time) and delivers those not delivered yet. Resolves to how
 * many went out, and, when it could not read them all, why not.
 */
async function catchUpChannel(state: FanoutState, topic: string, from: number): Promise<{ redelivered: number; behind?: string }> {
  const channelId = topic.slice("channel:".length);
  let after = firstIdAt(from);
  let redelivered = 0;
  try {
    let complete = false;
    for (let n = 0; n < maxMissedPerChannel && !complete; n += missedPage) {
      const page = await missedMessages(state.deps, channelId, after, missedPage);
      for (const m of page.data) {
        if (!state.held.has(topic) || state.recent.get(topic)?.ids.has(m.id)) continue;
        const event = messageFrame(m);
        deliverNow(state, { topic, event, bytes: encodeEvent(event) });
        redelivered++;
      }
      complete = !page.has_more || page.data.length === 0;
      if (!complete) after = page.data.at(-1)!.id;
    }
    return complete ? { redelivered } : { redelivered, behind: `over ${maxMissedPerChannel} messages missed` };
  } catch (e) {
    // A channel deleted meanwhile has nothing to catch up.
    if ((e as { code?: string }).code === "not_found") return { redelivered };
    const reason = String((e as Error)?.message ?? e)
      .split("\n")[0]
      .slice(0, 200);
    return { redelivered, behind: reason };
  }
}

/** The channel's turn is over: what arrived live meanwhile goes out now (minus what the database already gave). */
function takeTurn(state: FanoutState, backlog: Map<string, Delivery[]>, topic: string): void {
  const queued = backlog.get(topic) ?? [];
  backlog.delete(topic);
  for (const d of queued) deliverNow(state, d);
}
