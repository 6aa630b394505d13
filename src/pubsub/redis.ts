// Production: Redis pub/sub, one Redis channel per topic, so a message posted on instance A reaches sockets on B.
// Publishing goes through the instance's command connection; receiving needs a connection of its own.
import type Redis from "ioredis";
import type { RedisOptions } from "ioredis";
import { type Link, link } from "../lib/link.ts";
import { listeners } from "../lib/listeners.ts";
import type { LinkChange, PubSub, Receiver } from "./pubsub.ts";

/**
 * Options of every Redis connection. While Redis is away a command fails at once (the request answers 503) instead
 * of waiting in a queue, and reconnecting is tried at least every second, so service resumes about a second after
 * Redis is back. Subscriptions are renewed by the pub/sub below, which then reports the gap to the fan-out.
 */
export const redisOptions: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  autoResubscribe: false,
  connectTimeout: 5000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
};

/** One link for all of an instance's Redis connections: down when any of them is, back when all of them are. */
export function watchRedis(conns: Redis[]): Link {
  const state = link("redis", "requests that need it answer 503 until it is back");
  const down = new Set<Redis>();
  let reason = "connection lost";
  for (const conn of conns) {
    conn.on("error", (e: Error) => {
      reason = e.message;
    });
    conn.on("close", () => {
      down.add(conn);
      state.down(reason);
    });
    conn.on("ready", () => {
      down.delete(conn);
      if (down.size === 0) state.restored();
    });
  }
  return state;
}

/** `pub` is the instance's command connection; `sub` a connection of its own (a subscribed connection runs no commands). */
export function redisPubSub(pub: Redis, sub: Redis, prefix: string): PubSub {
  const received = listeners<Parameters<Receiver>>("pub/sub");
  const linkChanged = listeners<Parameters<LinkChange>>("pub/sub link");
  const channel = (topic: string) => `${prefix}t:${topic}`;
  const strip = prefix.length + 2;
  /** Redis channels this instance means to receive: subscribed again, all at once, when the link comes back. */
  const wanted = new Set<string>();
  let lostAt: number | undefined;
  let closing = false;
  sub.on("message", (ch: string, payload: string) => received.emit(ch.slice(strip), payload));
  sub.on("close", () => {
    if (closing || lostAt !== undefined) return;
    lostAt = Date.now();
    linkChanged.emit("lost", lostAt);
  });
  sub.on("ready", async () => {
    if (lostAt === undefined) return;
    try {
      if (wanted.size) await sub.subscribe(...wanted);
    } catch {
      return; // lost again before it was renewed: the next "ready" tries again, the gap still counted from `lostAt`
    }
    const since = lostAt;
    lostAt = undefined;
    linkChanged.emit("restored", since);
  });
  return {
    kind: "redis",
    async publish(topic, payload) {
      await pub.publish(channel(topic), payload);
    },
    async subscribe(topic) {
      // Wanted even if this fails (Redis is down): it is subscribed with the rest when the link is back.
      const ch = channel(topic);
      wanted.add(ch);
      await sub.subscribe(ch);
    },
    async unsubscribe(topic) {
      const ch = channel(topic);
      wanted.delete(ch);
      await sub.unsubscribe(ch);
    },
    onMessage: received.add,
    onLinkChange: linkChanged.add,
    async ping() {
      if (sub.status !== "ready") throw new Error(`Connection is closed (subscriber ${sub.status})`);
      await pub.ping();
    },
    async close() {
      closing = true;
      sub.removeAllListeners("close"); // closed on purpose: not an outage
      sub.disconnect();
      received.clear();
      linkChanged.clear();
    },
  };
}
