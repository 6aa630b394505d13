// Browsers watching a channel page: a per-instance registry of listeners that the gateway's fan-out feeds.
// The pub/sub has one delivery callback per instance (the fan-out's), so pages never subscribe to it themselves:
// the fan-out hands every delivery to `deliver`, and `listen` asks the fan-out (through `attach`) to hold the topic
// on this instance while at least one browser watches it.
import type { PubSub } from "../pubsub/pubsub.ts";

export type LiveSource = {
  /** Makes sure this instance receives `topic`; resolves once the subscription is live. */
  hold(topic: string): Promise<void>;
  release(topic: string): void;
};

export type Listener = (payload: string) => void;

export type Live = {
  /** Called by the fan-out for every event this instance receives. */
  deliver(topic: string, payload: string): void;
  /** Called once by the fan-out so that listening holds the topic. */
  attach(source: LiveSource): void;
  readonly attached: boolean;
  /** Starts passing `topic`'s events to `fn`; resolves (once the topic is held) to the function that stops it. */
  listen(topic: string, fn: Listener): Promise<() => void>;
  /** Registers a stream to end when the server stops (open streams would otherwise hold a graceful stop). */
  onClose(fn: () => void): () => void;
  /** Ends every open stream: call before stopping the HTTP server. */
  closeAll(): void;
};

const registry = new WeakMap<PubSub, Live>();

/** The registry of one running server, keyed by its pub/sub (which the fan-out and the pages both know). */
export function liveFor(pubsub: PubSub): Live {
  let live = registry.get(pubsub);
  if (!live) registry.set(pubsub, (live = createLive()));
  return live;
}

function createLive(): Live {
  const listeners = new Map<string, Set<Listener>>();
  const closers = new Set<() => void>();
  let source: LiveSource | undefined;
  return {
    deliver(topic, payload) {
      const set = listeners.get(topic);
      if (!set) return;
      for (const fn of set) {
        try {
          fn(payload);
        } catch (e) {
          console.error(`live: listener failed: ${(e as Error)?.message}`);
        }
      }
    },
    attach(s) {
      source = s;
    },
    get attached() {
      return source !== undefined;
    },
    async listen(topic, fn) {
      let set = listeners.get(topic);
      if (!set) listeners.set(topic, (set = new Set()));
      set.add(fn);
      const held = source;
      try {
        await held?.hold(topic);
      } catch (e) {
        set.delete(fn);
        if (set.size === 0) listeners.delete(topic);
        held?.release(topic);
        throw e;
      }
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        const current = listeners.get(topic);
        current?.delete(fn);
        if (current?.size === 0) listeners.delete(topic);
        held?.release(topic);
      };
    },
    onClose(fn) {
      closers.add(fn);
      return () => closers.delete(fn);
    },
    closeAll() {
      for (const fn of [...closers]) fn();
      closers.clear();
    },
  };
}
