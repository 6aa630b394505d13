// Embedded mode: one process, so publishing is a direct call.
import type { Delivery, PubSub } from "./pubsub.ts";

export function memoryPubSub(): PubSub {
  const topics = new Set<string>();
  let deliver: Delivery = () => {};
  return {
    kind: "memory",
    async publish(topic, payload) {
      if (topics.has(topic)) deliver(topic, payload);
    },
    async subscribe(topic) {
      topics.add(topic);
    },
    async unsubscribe(topic) {
      topics.delete(topic);
    },
    onDelivery(d) {
      deliver = d;
    },
    onLinkChange() {}, // one process: nothing between publisher and receiver to lose
    async ping() {},
    async close() {
      topics.clear();
    },
  };
}
