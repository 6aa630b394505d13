// The server's periodic work, every job named and listed here, run on the deps' clock: started with the server,
// stopped with it. A run that is still going when its next is due is not doubled; a failure is logged with the name.
import { sql } from "drizzle-orm";
import { rows } from "./db/client.ts";
import type { Deps } from "./deps.ts";
import { forgetExpiredKeys } from "./domain/idempotency.ts";
import { type Presence, presenceTickMs, sessionRenewMs, settleStalePresence, stalePresenceMs } from "./domain/presence.ts";
import { logFailure } from "./errors.ts";
import type { Gateway } from "./gateway/gateway.ts";

export type Job = { name: string; everyMs: number; run: () => unknown };

export function serverJobs(deps: Deps, gateway: Gateway, presence: Presence): Job[] {
  return [
    { name: "presence", everyMs: presenceTickMs, run: presence.tick },
    { name: "session leases", everyMs: sessionRenewMs, run: presence.renew },
    { name: "revoked sessions", everyMs: sessionRenewMs, run: gateway.closeRevoked },
    { name: "stale presence", everyMs: stalePresenceMs, run: () => settleStalePresence(deps) },
    { name: "slow consumers", everyMs: 250, run: gateway.closeSlowConsumers },
    // Idempotency keys live 24 hours; lookups ignore older ones, this removes them.
    { name: "idempotency keys", everyMs: 10 * 60_000, run: () => forgetExpiredKeys(deps) },
    // PGlite has no autovacuum: this job is its analyze half, or growing channels get slow plans.
    ...(deps.database.kind === "pglite" ? [{ name: "analyze", everyMs: 30_000, run: () => analyzeChanged(deps) }] : []),
  ];
}

export function analyze(deps: Deps): Promise<unknown> {
  return deps.database.db.execute(sql`analyze`);
}

/**
 * Analyzes the tables that changed enough since their last analyze, by autovacuum's default rule (50 rows plus a
 * tenth of the table), so statistics follow a table that grows from empty without analyzing idle ones again.
 */
export async function analyzeChanged(deps: Deps): Promise<void> {
  const stale = await rows<{ relname: string }>(
    deps.database.db,
    sql`select relname from pg_stat_user_tables where n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0)`,
  );
  for (const { relname } of stale) await deps.database.db.execute(sql`analyze ${sql.identifier(relname)}`);
}

export function startJobs(deps: Deps, jobs: Job[]): { stop(): Promise<void> } {
  const running = new Set<Promise<void>>();
  const cancels = jobs.map((job) => {
    let current: Promise<void> | undefined;
    return deps.clock.every(job.everyMs, () => {
      if (current) return current;
      const run: Promise<void> = (async () => {
        try {
          await job.run();
        } catch (e) {
          logFailure(job.name, e);
        }
      })().finally(() => {
        current = undefined;
        running.delete(run);
      });
      current = run;
      running.add(run);
      return run;
    });
  });
  return {
    async stop() {
      for (const cancel of cancels) cancel();
      await Promise.all(running);
    },
  };
}
