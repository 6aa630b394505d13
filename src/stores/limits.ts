// Rate limits: sliding windows over counters kept in Redis in production, so every instance behind the load balancer
// counts the same hits, and in this process's memory in embedded mode (one instance).
import type Redis from "ioredis";
import { AppError } from "../errors.ts";
import { expiringMap } from "../lib/expiring.ts";

export type Limit = { name: string; max: number; windowSeconds: number };
export type Verdict = { limit: number; remaining: number; resetSeconds: number; allowed: boolean };

export type Limiter = {
  /**
   * Counts one hit of `key` against `limit`. With `early` (a read, which changes nothing), a caller far below its
   * limit is answered without waiting for the count (see `headroom`); the hit is counted all the same.
   */
  hit(limit: Limit, key: string, options?: { early?: boolean }): Promise<Verdict>;
  /** Counts one hit and throws rate_limited (429) when it is over. */
  take(limit: Limit, key: string, what?: string): Promise<Verdict>;
  /** Counts one hit against each limit, all in one round trip; throws rate_limited for the first one over. */
  takeAll(hits: { limit: Limit; key: string; what?: string }[]): Promise<Verdict[]>;
  /**
   * Takes back one hit counted moments ago: a request charged to an agent whose credential then turned out revoked is
   * charged to its address instead (a leaked, revoked key must not spend its owner's allowance).
   */
  undo(limit: Limit, key: string): Promise<void>;
};

/** Where the counts live. */
export type Counters = {
  /**
   * For each pair: adds `by` (default one) to the count of `current` (kept `ttlMs` from now) and answers it with the
   * count of `previous`.
   */
  add(pairs: { current: string; previous: string; ttlMs: number; by?: number }[]): Promise<[current: number, previous: number][]>;
};

/** Counts in Redis: one MULTI for all the pairs of a request. */
export function redisCounters(redis: Redis): Counters {
  return {
    async add(pairs) {
      const batch = redis.multi();
      for (const { current, previous, ttlMs, by = 1 } of pairs) batch.incrby(current, by).pexpire(current, ttlMs).get(previous);
      const result = await batch.exec();
      return pairs.map((_, i) => [Number(result?.[3 * i]?.[1] ?? 0), Number(result?.[3 * i + 2]?.[1] ?? 0)]);
    },
  };
}

/**
 * Counts in this process (embedded mode, where the server is the only instance): the same answers as Redis, without
 * going through an emulation of it, which cost more than the rest of a small request.
 */
export function memoryCounters(now: () => number = Date.now): Counters {
  const counts = expiringMap<number>(now);
  return {
    async add(pairs) {
      return pairs.map(({ current, previous, ttlMs, by = 1 }) => {
        const n = (counts.get(current) ?? 0) + by;
        counts.set(current, n, ttlMs);
        return [n, counts.get(previous) ?? 0];
      });
    },
  };
}

/**
 * What a remote count (Redis) last said of a caller, to answer its reads without waiting for the next count while it
 * is far below its limit: the remaining hits then, in which window, when, and the hits counted since but not yet
 * answered. A read is answered early only while the last answer is fresh (a second), in the same window, and the
 * remaining hits less those in flight stay above a tenth of the limit (limits of 50 or more): every hit is still counted
 * in Redis, in order, so the first read that waits again is told the exact count; a caller near its limit (or an
 * outage: a failed count forgets it) waits for the count as before. X-RateLimit-Remaining of an early read is the
 * estimate. The point is speed:
 * a large answer written after a round trip to Redis costs the server twice the CPU of one written at once.
 */
type Headroom = { window: number; remaining: number; pending: number; confirmedAt: number };
const headroomFreshMs = 1000;
/** Smaller limits are counted exactly, read by read (a tenth of them leaves no room to answer early). */
const minEarlyLimit = 50;

export function createLimiter(
  counters: Counters,
  prefix: string,
  now: () => number = Date.now,
  options: { early: boolean } = { early: false },
): Limiter {
  const headroom = expiringMap<Headroom>(now);
  // Sliding window (approximated from two fixed windows): a burst across a window boundary is still counted,
  // so nobody gets twice the limit by timing requests around the turn of a minute.
  async function hits(list: { limit: Limit; key: string }[], by = 1): Promise<Verdict[]> {
    const t = now();
    const windows = list.map(({ limit, key }) => {
      const windowMs = limit.windowSeconds * 1000;
      const window = Math.floor(t / windowMs);
      return { limit, windowMs, window, key };
    });
    const counted = await counters.add(
      windows.map(({ limit, windowMs, window, key }) => ({
        current: `${prefix}rl:${limit.name}:${key}:${window}`,
        previous: `${prefix}rl:${limit.name}:${key}:${window - 1}`,
        ttlMs: 2 * windowMs + 1000,
        by,
      })),
    );
    return windows.map(({ limit, windowMs, window }, i) => {
      const elapsed = (t - window * windowMs) / windowMs;
      const [current, previous] = counted[i];
      const count = current + Math.ceil(previous * (1 - elapsed));
      const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - t) / 1000));
      return { limit: limit.max, remaining: Math.max(0, limit.max - count), resetSeconds, allowed: count <= limit.max };
    });
  }
  function refuse({ limit, what }: { limit: Limit; what?: string }, verdict: Verdict): AppError {
    return new AppError(
      "rate_limited",
      `rate limit reached: ${what ?? limit.name} (${limit.max} per ${describeWindow(limit.windowSeconds)}); retry in ${verdict.resetSeconds}s`,
      [{ field: limit.name, message: `limit ${limit.max} per ${describeWindow(limit.windowSeconds)}` }],
      verdict.resetSeconds,
    );
  }
  /** The verdict for a read answered early, or undefined when this read must wait for its count. */
  function early(limit: Limit, key: string): Verdict | undefined {
    const id = `${limit.name}:${key}`;
    const t = now();
    const windowMs = limit.windowSeconds * 1000;
    const window = Math.floor(t / windowMs);
    const known = headroom.get(id);
    const margin = Math.ceil(limit.max / 10);
    if (
      limit.max < minEarlyLimit ||
      !known ||
      known.window !== window ||
      t - known.confirmedAt > headroomFreshMs ||
      known.remaining - known.pending - 1 < margin
    )
      return undefined;
    known.pending++;
    hits([{ limit, key }]).then(
      ([v]) => note(id, v, window, windowMs, -1),
      () => headroom.delete(id),
    );
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - t) / 1000));
    return { limit: limit.max, remaining: Math.max(0, known.remaining - known.pending), resetSeconds, allowed: true };
  }
  /** Keeps what a count said (`settled`: -1 for an early read's count coming back). */
  function note(id: string, v: Verdict, window: number, windowMs: number, settled = 0): void {
    const known = headroom.get(id);
    const pending = Math.max(0, (known?.window === window ? known.pending : 0) + settled);
    headroom.set(id, { window, remaining: v.remaining, pending, confirmedAt: now() }, windowMs);
  }
  return {
    async hit(limit, key, hitOptions) {
      if (!options.early || !hitOptions?.early) return (await hits([{ limit, key }]))[0];
      const answered = early(limit, key);
      if (answered) return answered;
      const windowMs = limit.windowSeconds * 1000;
      const window = Math.floor(now() / windowMs);
      const [verdict] = await hits([{ limit, key }]);
      note(`${limit.name}:${key}`, verdict, window, windowMs);
      return verdict;
    },
    async take(limit, key, what) {
      const [verdict] = await hits([{ limit, key }]);
      if (!verdict.allowed) throw refuse({ limit, what }, verdict);
      return verdict;
    },
    async undo(limit, key) {
      const id = `${limit.name}:${key}`;
      const known = headroom.get(id);
      if (known) known.remaining++;
      await hits([{ limit, key }], -1);
    },
    async takeAll(list) {
      const verdicts = await hits(list);
      const over = verdicts.findIndex((v) => !v.allowed);
      if (over >= 0) throw refuse(list[over], verdicts[over]);
      return verdicts;
    },
  };
}

function describeWindow(seconds: number): string {
  if (seconds === 60) return "minute";
  if (seconds === 3600) return "hour";
  if (seconds === 86400) return "day";
  return `${seconds}s`;
}
