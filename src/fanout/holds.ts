// Holding topics on the pub/sub: this instance receives a topic while at least one of its readers holds it (counted
// per holder), and unsubscribes when the last one lets go.
import { listenTopic } from "./deliver.ts";
import type { FanoutState, Listener } from "./state.ts";

/**
 * Makes sure this instance receives `topic`. Resolves once the subscription is live; when it fails the hold still
 * counts, and the caller releases it as it would have.
 */
export async function hold(state: FanoutState, topic: string): Promise<void> {
  const n = state.held.get(topic) ?? 0;
  state.held.set(topic, n + 1);
  if (n === 0) state.heldSince.set(topic, Date.now());
  let subscribed = state.subscriptions.get(topic);
  if (!subscribed) {
    const attempt = state.deps.pubsub.subscribe(topic);
    subscribed = attempt;
    state.subscriptions.set(topic, attempt);
    // Failed (Redis is down): forgotten, so that the next holder tries again; the pub/sub renews it when it is back.
    attempt.catch(() => state.subscriptions.get(topic) === attempt && state.subscriptions.delete(topic));
  }
  await subscribed;
}

export function release(state: FanoutState, topic: string): void {
  const n = (state.held.get(topic) ?? 0) - 1;
  if (n > 0) {
    state.held.set(topic, n);
    return;
  }
  state.held.delete(topic);
  state.heldSince.delete(topic);
  state.subscriptions.delete(topic);
  state.recent.delete(topic);
  state.deps.pubsub.unsubscribe(topic).catch(() => {});
}

/** Holds `topic` and passes its events to `listener`; resolves (once subscribed) to the function that stops both. */
export async function listen(state: FanoutState, topic: string, listener: Listener): Promise<() => void> {
  const stopListening = listenTopic(state, topic, listener);
  try {
    await hold(state, topic);
  } catch (e) {
    stopListening();
    release(state, topic);
    throw e;
  }
  let stopped = false;
  return () => {
    if (stopped) return;
    stopped = true;
    stopListening();
    release(state, topic);
  };
}
