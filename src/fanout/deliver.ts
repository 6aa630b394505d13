// Delivering one received event to this instance's readers: every-event listeners (the gateway) and the listeners of
// its topic (browsers' live streams), in arrival order; held back while its channel is being caught up after an
// outage, and dropped when the catch-up already delivered it from the database.
import { listeners } from "../lib/listeners.ts";
import { type Delivery, type FanoutState, gapMarginMs, type Listener } from "./state.ts";

/** Passes `topic`'s events to `listener` until the returned function is called. */
export function listenTopic(state: FanoutState, topic: string, listener: Listener): () => void {
  const list = state.byTopic.get(topic) ?? listeners<[Delivery]>("fan-out");
  state.byTopic.set(topic, list);
  const remove = list.add(listener);
  return () => {
    remove();
    if (list.size === 0 && state.byTopic.get(topic) === list) state.byTopic.delete(topic);
  };
}

/** Delivers `d` now, or queues it behind its channel's catch-up. */
export function deliver(state: FanoutState, d: Delivery): void {
  const waitingTurn = state.heldBack?.get(d.topic);
  if (waitingTurn) return void waitingTurn.push(d);
  deliverNow(state, d);
}

export function deliverNow(state: FanoutState, d: Delivery): void {
  if (d.event.op === "message") {
    if (state.keepRecent > 0 && state.recent.get(d.topic)?.ids.has(d.event.id)) return; // already re-delivered from the database
    remember(state, d.topic, d.event.id);
  }
  state.everyEvent.emit(d);
  state.byTopic.get(d.topic)?.emit(d);
}

function remember(state: FanoutState, topic: string, id: string): void {
  const seen = state.recent.get(topic) ?? { ids: new Set<string>(), order: [], head: 0 };
  state.recent.set(topic, seen);
  const now = Date.now();
  seen.ids.add(id);
  seen.order.push({ id, at: now });
  if (state.keepRecent > 0) return;
  const { order } = seen;
  while (seen.head < order.length && order[seen.head].at < now - gapMarginMs) seen.ids.delete(order[seen.head++].id);
  if (seen.head > 1024 && seen.head * 2 > order.length) {
    seen.order = order.slice(seen.head);
    seen.head = 0;
  }
}
