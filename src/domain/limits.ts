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
};

export function createLimiter(redis: Redis, prefix: string, now: () => number = Date.now): Limiter {
  // Sliding window (approximated from two fixed windows): a burst across a window boundary is still counted,
  // so nobody gets twice the limit by timing requests around the turn of a minute.
  async function hit(limit: Limit, key: string): Promise<Verdict> {
    const windowMs = limit.windowSeconds * 1000;
    const t = now();
    const window = Math.floor(t / windowMs);
    const current = `${prefix}rl:${limit.name}:${key}:${window}`;
    const previous = `${prefix}rl:${limit.name}:${key}:${window - 1}`;
    const result = await redis.multi().incr(current).pexpire(current, 2 * windowMs + 1000).get(previous).exec();
    const elapsed = (t - window * windowMs) / windowMs;
    const count = Number(result?.[0]?.[1] ?? 0) + Math.ceil(Number(result?.[2]?.[1] ?? 0) * (1 - elapsed));
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * windowMs - t) / 1000));
    return { limit: limit.max, remaining: Math.max(0, limit.max - count), resetSeconds, allowed: count <= limit.max };
  }
  return {
    hit,
    async take(limit, key, what) {
      const verdict = await hit(limit, key);
      if (!verdict.allowed) {
        throw new AppError(
          "rate_limited",
          `rate limit reached: ${what ?? limit.name} (${limit.max} per ${describeWindow(limit.windowSeconds)}); retry in ${verdict.resetSeconds}s`,
          [{ field: limit.name, message: `limit ${limit.max} per ${describeWindow(limit.windowSeconds)}` }],
          verdict.resetSeconds,
        );
      }
      return verdict;
    },
  };
}

function describeWindow(seconds: number): string {
  if (seconds === 60) return "minute";
  if (seconds === 3600) return "hour";
  if (seconds === 86400) return "day";
  return `${seconds}s`;
}
