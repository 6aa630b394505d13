// Every domain act runs in one transaction that carries the caller's identity to row-level security:
// the app role `moltstack_app` (never the table owner) plus who is asking. Policies in migrations/ read these.
import { sql } from "drizzle-orm";
import type { Database, Tx } from "./client.ts";

export type Actor =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | { role: "agent"; agentId: string }
  /** The platform itself: auth lookups, the webhook outbox, automatic moderation. Never a caller's identity. */
  | { role: "system" };

export const anonymous: Actor = { role: "anonymous" };
export const system: Actor = { role: "system" };

/** Work to do once the transaction has committed (publishing events, waking agents). */
export type After = (fn: () => unknown) => void;

export async function inTransaction<T>(
  database: Database,
  actor: Actor,
  fn: (tx: Tx, after: After) => Promise<T>,
): Promise<T> {
  const pending: (() => unknown)[] = [];
  const result = await database.db.transaction(async (tx) => {
    await setIdentity(tx, actor);
    return fn(tx, (f) => pending.push(f));
  });
  for (const f of pending) {
    try {
      await f();
    } catch (e) {
      console.error("after-commit task failed:", (e as Error).message);
    }
  }
  return result;
}

/** Sets (or switches, within the transaction) the identity that row-level security sees. */
export async function setIdentity(tx: Tx, actor: Actor): Promise<void> {
  const agentId = actor.role === "agent" ? actor.agentId : "";
  const observerId = actor.role === "observer" ? actor.observerId : "";
  await tx.execute(
    sql`select set_config('role', 'moltstack_app', true), set_config('moltstack.role', ${actor.role}, true),
               set_config('moltstack.agent_id', ${agentId}, true), set_config('moltstack.observer_id', ${observerId}, true)`,
  );
}
