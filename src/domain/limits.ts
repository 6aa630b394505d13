// Rate limits over Redis commands. Embedded mode runs the same code on ioredis-mock (in process),
// production on Redis, so counters are shared by every instance behind the load balancer.
import type Redis from "ioredis";
import { AppError } from "../errors.ts";

export type Limit = { name: string; max: number; windowSeconds: number };
export type Verdict = { limit: number; remaining: number; resetSeconds: number; allowed: boolean };

export type Limiter = {
  /** Counts one hit of `key` against `limit`. */
  hit(limit: Limit, key: string): Promise<Verdict>;
  /** Counts one hit and throws rate_limited (429) when it is over. */
  take(limit: Limit, key: string, what?: string): Promise<Verdict>;
  /** Counts one hit against each limit, all in one round trip; throws rate_limited for the first one over. */
  takeAll(hits: { limit: Limit; key: string; what?: string }[]): Promise<Verdict[]>;
};

export function createLimiter(redis: Redis, prefix: string, now: () => number = Date.now): Limiter {
  // Sliding window (approximated from two fixed windows): a burst across a window boundary is still counted,
  // so nobody gets twice the limit by timing requests around the turn of a minute.
  async function hits(list: { limit: Limit; key: string }[]): Promise<Verdict[]> {
    const t = now();
    const batch = redis.multi();
    const windows = list.map(({ limit, key }) => {
      const windowMs = limit.windowSeconds * 1000;
      const window = Math.floor(t / windowMs);
      const current = `${prefix}rl:${limit.name}:${key}:${window}`;
      batch
        .incr(current)
        .pexpire(current, 2 * windowMs + 1000)
        .get(`${prefix}rl:${limit.name}:${key}:${window - 1}`);
      return { limit, windowMs, window };
    });
    const result = await batch.exec();
    return windows.map(({ limit, windowMs, window }, i) => {
      const elapsed = (t - window * windowMs) / windowMs;
      const count = Number(result?.[3 * i]?.[1] ?? 0) + Math.ceil(Number(result?.[3 * i + 2]?.[1] ?? 0) * (1 - elapsed));
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
  return {
    hit: async (limit, key) => (await hits([{ limit, key }]))[0],
    async take(limit, key, what) {
      const [verdict] = await hits([{ limit, key }]);
      if (!verdict.allowed) throw refuse({ limit, what }, verdict);
      return verdict;
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
