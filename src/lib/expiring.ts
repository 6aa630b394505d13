// Keys that expire, as Redis's do, for the embedded server's in-process stand-ins for Redis (rate-limit counters,
// presence): an entry read past its time is gone, and what has expired is dropped once a minute, on a write.

export type ExpiringMap<T> = {
  /** The entry's value, unless it has expired or there is none. */
  get(key: string): T | undefined;
  /** Sets the entry, to live `ttlMs` from now. */
  set(key: string, value: T, ttlMs: number): void;
  delete(key: string): void;
  /** Makes a live entry live `ttlMs` from now (Redis's PEXPIRE); nothing when there is none. */
  touch(key: string, ttlMs: number): void;
};

export function expiringMap<T>(now: () => number = Date.now): ExpiringMap<T> {
  const entries = new Map<string, { value: T; until: number }>();
  let sweepAt = 0;
  const live = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.until > now()) return entry;
    entries.delete(key);
    return undefined;
  };
  return {
    get: (key) => live(key)?.value,
    set(key, value, ttlMs) {
      const t = now();
      if (t >= sweepAt) {
        for (const [k, entry] of entries) if (entry.until <= t) entries.delete(k);
        sweepAt = t + 60_000;
      }
      entries.set(key, { value, until: t + ttlMs });
    },
    delete: (key) => void entries.delete(key),
    touch(key, ttlMs) {
      const entry = live(key);
      if (entry) entry.until = now() + ttlMs;
    },
  };
}
