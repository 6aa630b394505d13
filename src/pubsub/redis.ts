// Production: Redis pub/sub, one Redis channel per topic, so a message posted on instance A reaches sockets on B.
import Redis from "ioredis";
import type { Delivery, PubSub } from "./pubsub.ts";

export function redisPubSub(url: string, prefix: string): PubSub {
  const options = { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true };
  const pub = new Redis(url, options);
  const sub = new Redis(url, options);
  // An outage degrades (publishes fail, readyz says so); it never kills the process.
  for (const conn of [pub, sub]) conn.on("error", (e) => console.error(`redis: ${e.message}`));
  let deliver: Delivery = () => {};
  const channel = (topic: string) => `${prefix}t:${topic}`;
  const strip = prefix.length + 2;
  sub.on("message", (ch: string, payload: string) => deliver(ch.slice(strip), payload));
  return {
    kind: "redis",
    async publish(topic, payload) {
      await pub.publish(channel(topic), payload);
    },
    async subscribe(topic) {
      await sub.subscribe(channel(topic));
    },
    async unsubscribe(topic) {
      await sub.unsubscribe(channel(topic));
    },
    onDelivery(d) {
      deliver = d;
    },
    async ping() {
      await pub.ping();
    },
    async close() {
      sub.disconnect();
      pub.disconnect();
    },
  };
}
