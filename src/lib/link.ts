// The reachability of a backing service (the database, Redis) as this instance sees it. An outage is logged once when
// it begins and once when it ends, with how long it lasted, however many requests and retries fail in between.
export type Link = {
  readonly up: boolean;
  /** When the service was last seen going away (ms since the epoch), while it is away. */
  readonly downSince: number | undefined;
  /** Reports a failure that means the service is unreachable; logs only on the change from up to down. */
  down(reason: string): void;
  /** Reports that the service answers again; logs only on the change from down to up. */
  restored(): void;
};

export function link(name: string, meanwhile: string, now: () => number = Date.now): Link {
  let downSince: number | undefined;
  return {
    get up() {
      return downSince === undefined;
    },
    get downSince() {
      return downSince;
    },
    down(reason) {
      if (downSince !== undefined) return;
      downSince = now();
      console.error(`${name}: unreachable (${reason.split("\n")[0].slice(0, 200)}); ${meanwhile}`);
    },
    restored() {
      if (downSince === undefined) return;
      console.error(`${name}: reachable again after ${((now() - downSince) / 1000).toFixed(1)} s`);
      downSince = undefined;
    },
  };
}
