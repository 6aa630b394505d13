// Time as a dependency: the platform's rules (presence, session leases and limits, periodic jobs) read the time and
// set their timers through a Clock. A server runs on the system clock; a test can start one on a manual clock and
// move it forward instead of sleeping through a timeout.
export type Cancel = () => void;

export type Clock = {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /** Calls `fn` once, `ms` from now. A promise it returns is awaited by a manual clock. */
  after(ms: number, fn: () => unknown): Cancel;
  /** Calls `fn` every `ms`. A promise it returns is awaited by a manual clock. */
  every(ms: number, fn: () => unknown): Cancel;
};

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return () => clearTimeout(timer);
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref?.();
    return () => clearInterval(timer);
  },
};

export type ManualClock = Clock & {
  /**
   * Moves the time forward by `ms`, running every timer that falls due on the way, in order, each at its own time,
   * and waiting for what each run returns: when it resolves, the jobs of that stretch of time have finished.
   */
  advance(ms: number): Promise<void>;
};

/** A clock that stands still until `advance` moves it (starts at the real time, so stored timestamps look normal). */
export function manualClock(start = Date.now()): ManualClock {
  let now = start;
  let lastId = 0;
  const timers = new Map<number, { at: number; everyMs?: number; fn: () => unknown }>();
  let moving = Promise.resolve();
  const add = (ms: number, fn: () => unknown, everyMs?: number): Cancel => {
    const id = ++lastId;
    timers.set(id, { at: now + Math.max(0, ms), everyMs: everyMs === undefined ? undefined : Math.max(1, everyMs), fn });
    return () => void timers.delete(id);
  };
  const nextDue = (until: number) => {
    let next: [number, { at: number; everyMs?: number; fn: () => unknown }] | undefined;
    for (const entry of timers) if (entry[1].at <= until && (!next || entry[1].at < next[1].at)) next = entry;
    return next;
  };
  return {
    now: () => now,
    after: (ms, fn) => add(ms, fn),
    every: (ms, fn) => add(ms, fn, ms),
    advance(ms) {
      // Two advances at once run one after the other, so time never goes backwards.
      const run = moving.then(async () => {
        const end = now + ms;
        for (let next = nextDue(end); next; next = nextDue(end)) {
          const [id, timer] = next;
          now = Math.max(now, timer.at);
          if (timer.everyMs) timer.at += timer.everyMs;
          else timers.delete(id);
          await timer.fn();
        }
        now = end;
      });
      moving = run.catch(() => {}); // a failed run is the caller's to see; the next advance still moves on
      return run;
    },
  };
}
