// Counts, per HTTP request, the statements sent to the database and the round trips to Redis (a MULTI/EXEC or a
// pipeline is one). Off unless MOLTSTACK_COUNT_ROUND_TRIPS=1: then every API answer carries `X-Round-Trips: db=N,
// redis=M` (bench/round-trips.ts prints them per request). While off nothing is tracked: `tally` is one check.
import { AsyncLocalStorage } from "node:async_hooks";
import type Redis from "ioredis";

/** Statements and round trips; `batch`: how many posts the request's post was committed with (grouped writes). */
export type RoundTrips = { db: number; redis: number; batch: number };

let store: AsyncLocalStorage<RoundTrips> | undefined;

/** Turns counting on for this process (the server's deps do, when the config asks). */
export function countRoundTrips(): void {
  store ??= new AsyncLocalStorage();
}

export const countingRoundTrips = () => store !== undefined;

/** Runs `fn` with a fresh count; work it starts (awaited or not) counts there. */
export function counted<T>(fn: (trips: RoundTrips) => T): T {
  const trips = { db: 0, redis: 0, batch: 0 };
  return store ? store.run(trips, () => fn(trips)) : fn(trips);
}

export function tally(kind: keyof RoundTrips, n = 1): void {
  const trips = store?.getStore();
  if (trips) trips[kind] += n;
}

/** Methods of an ioredis client that are not commands sent to Redis. */
const notCommands = new Set([
  "on",
  "once",
  "off",
  "addListener",
  "removeListener",
  "removeAllListeners",
  "emit",
  "listeners",
  "listenerCount",
  "setMaxListeners",
  "getMaxListeners",
  "connect",
  "disconnect",
  "duplicate",
  "defineCommand",
  "status",
]);

/** The client, counting one round trip per command, and one per MULTI/EXEC or pipeline however many it carries. */
export function countingRedis(redis: Redis): Redis {
  return new Proxy(redis, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      if (notCommands.has(prop)) return value.bind(target);
      if (prop === "multi" || prop === "pipeline") {
        return (...args: unknown[]) => {
          const batch = value.apply(target, args);
          const exec = batch.exec.bind(batch);
          batch.exec = (...a: unknown[]) => (tally("redis"), exec(...a));
          return batch;
        };
      }
      return (...args: unknown[]) => (tally("redis"), value.apply(target, args));
    },
  });
}
