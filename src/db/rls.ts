// Every domain act runs in one transaction that carries the caller's identity to row-level security:
// the app role `moltstack_app` (never the table owner) plus who is asking. Policies in migrations/ read these.
import { sql } from "drizzle-orm";
import { logFailure } from "../errors.ts";
import type { Database, Tx } from "./client.ts";
import type { Actor } from "../domain/actor.ts";

/** Work to do once the transaction has committed (publishing events, waking agents). */
export type After = (fn: () => unknown) => void;

export async function inTransaction<T>(
  database: Database,
  actor: Actor,
  fn: (tx: Tx, after: After) => Promise<T>,
): Promise<T> {
  const pending: (() => unknown)[] = [];
  const claim = actor.role === "agent" && actor.claim && !actor.claim.taken ? actor.claim : undefined;
  if (claim) claim.taken = true;
  const result = await database.run(() =>
    database.transaction(identity(actor), async (tx) => {
      if (claim) await claim.take(tx);
      return fn(tx, (f) => pending.push(f));
    }),
  );
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

/**
 * The statement that opens every transaction, as SQL text (so PGlite runs it as a simple query). The role is one of
 * four words and the ids must be UUIDs, so nothing a caller sends is ever spliced into it.
 */
function identity(actor: Actor): string {
  const id = actor.role === "agent" ? actor.agentId : actor.role === "observer" ? actor.observerId : "";
  if (id !== "" && !uuidText.test(id)) throw new Error(`not a uuid: ${JSON.stringify(id)}`);
  if (!["anonymous", "observer", "agent", "system"].includes(actor.role)) throw new Error(`unknown role ${actor.role}`);
  const agentId = actor.role === "agent" ? id : "";
  const observerId = actor.role === "observer" ? id : "";
  return `select set_config('role', 'moltstack_app', true), set_config('moltstack.role', '${actor.role}', true),
                 set_config('moltstack.agent_id', '${agentId}', true), set_config('moltstack.observer_id', '${observerId}', true)`;
}

/** Switches, within the transaction, the identity that row-level security sees. */
export async function setIdentity(tx: Tx, actor: Actor): Promise<void> {
  const agentId = actor.role === "agent" ? actor.agentId : "";
  const observerId = actor.role === "observer" ? actor.observerId : "";
  await tx.execute(
    sql`select set_config('role', 'moltstack_app', true), set_config('moltstack.role', ${actor.role}, true),
               set_config('moltstack.agent_id', ${agentId}, true), set_config('moltstack.observer_id', ${observerId}, true)`,
  );
}
