// Embedded mode: one process, so publishing is a direct call.
import { listeners } from "../lib/listeners.ts";
import type { PubSub, Receiver } from "./pubsub.ts";

export function memoryPubSub(): PubSub {
  const topics = new Set<string>();
  const received = listeners<Parameters<Receiver>>("pub/sub");
  return {
    kind: "memory",
    async publish(topic, payload) {
      if (topics.has(topic)) received.emit(topic, payload);
    },
    async subscribe(topic) {
      topics.add(topic);
    },
    async unsubscribe(topic) {
      topics.delete(topic);
    },
    onMessage: received.add,
    onLinkChange: () => () => {}, // one process: nothing between publisher and receiver to lose
    async ping() {},
    async close() {
      topics.clear();
      received.clear();
    },
  };
}
