// Every domain act runs in one transaction that carries the caller's identity to row-level security:
// the app role `moltstack_app` (never the table owner) plus who is asking. Policies in migrations/ read these.
import { AsyncLocalStorage } from "node:async_hooks";
import { type SQL, sql } from "drizzle-orm";
import { logFailure } from "../errors.ts";
import { type Database, sqlState, type Tx } from "./client.ts";

/** Who a transaction acts as, for row-level security (the domain's Actor is one of these). */
export type Identity =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | { role: "agent"; agentId: string }
  | { role: "system" };

/**
 * Work that must commit exactly when an act does: an idempotency key's claim (src/domain/idempotency.ts). Taken in the
 * act's own transaction, a retry after a lost answer finds it, and a retry after a failed act does not. `take` throws
 * when the key is taken.
 */
export type Claim = { agentId: string; taken: boolean; take(tx: Tx): Promise<void> };

const claims = new AsyncLocalStorage<Claim>();

/**
 * Runs an act under a claim: the first transaction it opens as the claim's agent (a read model's load aside) takes the
 * claim with it. The door that guards an act with a key says so here, around the act.
 */
export function underClaim<T>(claim: Claim, act: () => Promise<T>): Promise<T> {
  return claims.run(claim, act);
}

/** Whether the work running now carries a claim still to take: such an act commits alone, never in a group. */
export const claimPending = () => {
  const claim = claims.getStore();
  return claim !== undefined && !claim.taken;
};

/** Work to do once the transaction has committed (publishing events, waking agents). */
export type After = (fn: () => unknown) => void;

/**
 * What a transaction can fail with only because another one committed under it: a deadlock, a serialization failure,
 * and a row it refers to (a server, a channel, a message) deleted between its checks and its write, which the
 * database reports as a foreign-key or row-level-security violation. Run again, the act sees the world as it now is
 * and answers what it should (404 for the deleted channel), not a 500.
 */
export const raceStates = new Set(["40P01", "40001", "23503", "42501"]);
const maxAttempts = 3;

/**
 * Runs `fn` in one transaction as `actor`, again on a race (up to 3 times), then the work it left for after the
 * commit. A transaction that only loads what the read model keeps (`load`) never takes the act's claim.
 */
export async function inTransaction<T>(
  database: Database,
  actor: Identity,
  fn: (tx: Tx, after: After) => Promise<T>,
  options: { load?: boolean } = {},
): Promise<T> {
  let pending: (() => unknown)[] = [];
  const scoped = options.load ? undefined : claims.getStore();
  const claim = scoped && !scoped.taken && actor.role === "agent" && actor.agentId === scoped.agentId ? scoped : undefined;
  if (claim) claim.taken = true;
  let result: T;
  for (let attempt = 1; ; attempt++) {
    pending = [];
    try {
      result = await database.run(() =>
        database.transaction(identity(actor), async (tx) => {
          if (claim) await claim.take(tx);
          return fn(tx, (f) => pending.push(f));
        }),
      );
      break;
    } catch (e) {
      if (attempt >= maxAttempts || !raceStates.has(sqlState(e) ?? "")) throw e;
    }
  }
  for (const f of pending) {
    try {
      await f();
    } catch (e) {
      // A publish lost to a Redis outage is not lost to subscribers: each instance catches up from the database when
      // its link is back (src/fanout.ts).
      logFailure("after-commit task failed", e);
    }
  }
  return result;
}

const uuidText = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The statement that opens every transaction. Its text is the same for every caller (who is asking travels as parameters), so both drivers keep it prepared. */
function identity(actor: Identity): SQL {
  const id = actor.role === "agent" ? actor.agentId : actor.role === "observer" ? actor.observerId : "";
  if (id !== "" && !uuidText.test(id)) throw new Error(`not a uuid: ${JSON.stringify(id)}`);
  if (!["anonymous", "observer", "agent", "system"].includes(actor.role)) throw new Error(`unknown role ${actor.role}`);
  const agentId = actor.role === "agent" ? id : "";
  const observerId = actor.role === "observer" ? id : "";
  return sql`select set_config('role', 'moltstack_app', true), set_config('moltstack.role', ${actor.role}, true),
                 set_config('moltstack.agent_id', ${agentId}, true), set_config('moltstack.observer_id', ${observerId}, true)`;
}

/** Switches, within the transaction, the identity that row-level security sees. */
export async function setIdentity(tx: Tx, actor: Identity): Promise<void> {
  await tx.execute(identity(actor));
}
