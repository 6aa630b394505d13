// Wires what one running server needs: database, key-value store, pub/sub, rate limiter, signing key, clock.
// A plain object handed to the domain; no container.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Redis from "ioredis";
import { type Config, ConfigError } from "./config.ts";
import { type Listeners, listeners } from "./lib/listeners.ts";
import { type Database, dataDirProblem, openDatabase } from "./db/client.ts";
import { migrate } from "./db/migrate.ts";
import { startingSnapshot } from "./db/snapshot.ts";
import { createLimiter, type Limiter, memoryCounters, redisCounters } from "./stores/limits.ts";
import { memoryPresenceStore, type PresenceStore, redisPresenceStore } from "./stores/presence-store.ts";
import { isDiskFull } from "./errors.ts";
import { applyChanges, createStore, linkChanged, type Store } from "./read-model/store.ts";
import { type Clock, systemClock } from "./lib/clock.ts";
import { countingRedis, countRoundTrips } from "./lib/round-trips.ts";
import { memoryPubSub } from "./pubsub/memory.ts";
import type { PubSub } from "./pubsub/pubsub.ts";
import { redisOptions, redisPubSub, watchRedis } from "./pubsub/redis.ts";

export type Deps = {
  config: Config;
  database: Database;
  /** Production only: the connection the limits and presence share (pub/sub has its own). */
  redis?: Redis;
  pubsub: PubSub;
  /** Rate limits: counted in Redis in production, in process memory when embedded (the only instance). */
  limiter: Limiter;
  /** Presence state: in Redis in production, in process memory when embedded. */
  presenceStore: PresenceStore;
  jwtKey: Uint8Array;
  /**
   * The time the platform's rules go by (presence, session leases and limits, periodic jobs). Token expiry (jose) and
   * Redis TTLs keep the real time.
   */
  clock: Clock;
  /** Told after a webhook wake is enqueued, so the outbox worker looks at once instead of at its next poll. */
  wakes: Listeners<[]>;
  /** What this process answers from memory, kept by the database's stream of changes (src/read-model/). */
  readModel: Store;
  /** Stops hearing other instances' changes (PostgreSQL). */
  stopWatching?: () => Promise<void>;
};

export type DepsOptions = {
  /** A migrated database to start from (embedded mode). */
  snapshot?: Blob;
  /** Default: the system clock. Tests pass a manual one. */
  clock?: Clock;
};

export class RedisUnreachable extends ConfigError {}

export async function createDeps(config: Config, options: DepsOptions = {}): Promise<Deps> {
  if (config.countRoundTrips) countRoundTrips();
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    snapshot: options.snapshot ?? startingSnapshot,
  });
  try {
    await migrate(database);
    const readModel = createStore(config.readModelMegabytes * 1024 * 1024);
    database.committed.add((keys) => applyChanges(readModel, keys));
    const stopWatching = await database.watchChanges?.({
      changes: (keys) => applyChanges(readModel, keys),
      link: (up) => linkChanged(readModel, up),
    });
    const shared = {
      config,
      database,
      jwtKey: loadJwtKey(config),
      clock: options.clock ?? systemClock,
      wakes: listeners<[]>("wakes"),
      readModel,
      stopWatching,
    };
    if (!config.redisUrl) {
      return {
        ...shared,
        pubsub: memoryPubSub(),
        limiter: createLimiter(memoryCounters(), config.redisPrefix),
        presenceStore: memoryPresenceStore(),
      };
    }
    let redis = await connectRedis(config.redisUrl);
    if (config.countRoundTrips) redis = countingRedis(redis);
    const sub = await connectRedis(config.redisUrl).catch((e) => {
      redis.disconnect();
      throw e;
    });
    watchRedis([redis, sub]);
    return {
      ...shared,
      redis,
      pubsub: redisPubSub(redis, sub, config.redisPrefix),
      limiter: createLimiter(redisCounters(redis), config.redisPrefix, Date.now, { early: true }),
      presenceStore: redisPresenceStore(redis, config.redisPrefix),
    };
  } catch (e) {
    await database.close().catch(() => {});
    throw isDiskFull(e) && !config.databaseUrl ? dataDirProblem(config.dataDir, e) : e;
  }
}

export async function closeDeps(deps: Deps): Promise<void> {
  await deps.stopWatching?.().catch(() => {});
  await deps.pubsub.close().catch(() => {});
  deps.redis?.removeAllListeners("close"); // closed on purpose: not an outage
  deps.redis?.disconnect();
  await deps.database.close().catch(() => {});
}

async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, { ...redisOptions, lazyConnect: true });
  // While connecting, a failure is reported once, by the error below; afterwards watchRedis reports outages.
  let firstError: Error | undefined;
  const quiet = (e: Error) => {
    firstError ??= e;
  };
  redis.on("error", quiet);
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    const reason = (firstError ?? (e as Error)).message;
    throw new RedisUnreachable(`cannot reach Redis at ${url.replace(/\/\/[^@/]*@/, "//")}: ${reason}`);
  }
  return redis; // `quiet` stays: an error event with no listener would be printed by ioredis itself
}

/** MOLTSTACK_JWT_SECRET, or (embedded only) a key generated once and kept in the data dir so tokens survive restarts. */
function loadJwtKey(config: Config): Uint8Array {
  if (config.jwtSecret) return new TextEncoder().encode(config.jwtSecret);
  if (config.dataDir === "memory:") return new Uint8Array(randomBytes(32));
  const file = join(config.dataDir, "jwt-secret");
  if (existsSync(file)) return new Uint8Array(Buffer.from(readFileSync(file, "utf8").trim(), "base64"));
  const key = randomBytes(32);
  writeFileSync(file, key.toString("base64"), { mode: 0o600 });
  return new Uint8Array(key);
}
