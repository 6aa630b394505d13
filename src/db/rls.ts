// Every domain act runs in one transaction that carries the caller's identity to row-level security:
// the app role `moltstack_app` (never the table owner) plus who is asking. Policies in migrations/ read these.
import { sql } from "drizzle-orm";
import { logFailure } from "../errors.ts";
import { type Database, type Tx, sqlState } from "./client.ts";

export type Actor =
  | { role: "anonymous" }
  | { role: "observer"; observerId: string }
  | {
      role: "agent";
      agentId: string;
      /** Set when the agent authenticated with a long-lived API key rather than a session's access token. */
      apiKeyId?: string;
      /** An Idempotency-Key (or WebSocket nonce) riding with this request: the act's first transaction claims it. */
      claim?: Claim;
    }
  /** The platform itself: auth lookups, the webhook outbox, automatic moderation. Never a caller's identity. */
  | { role: "system" };

export const anonymous: Actor = { role: "anonymous" };
export const system: Actor = { role: "system" };

/**
 * Claiming an idempotency key inside the act's own transaction makes the claim commit exactly when the act does: a
 * retry after a lost answer finds it, a retry after a failed act does not. `take` throws when the key is taken.
 */
export type Claim = { taken: boolean; take(tx: Tx): Promise<void> };

/** Work to do once the transaction has committed (publishing events, waking agents). */
export type After = (fn: () => unknown) => void;

/**
 * What a transaction can fail with only because another one committed under it: a deadlock, a serialization failure,
 * and a row it refers to (a server, a channel, a message) deleted between its checks and its write, which the
 * database reports as a foreign-key or row-level-security violation. Run again, the act sees the world as it now is
 * and answers what it should (404 for the deleted channel), not a 500.
 */
const raceStates = new Set(["40P01", "40001", "23503", "42501"]);
const maxAttempts = 3;

export async function inTransaction<T>(
  database: Database,
  actor: Actor,
  fn: (tx: Tx, after: After) => Promise<T>,
): Promise<T> {
  let pending: (() => unknown)[] = [];
  const claim = actor.role === "agent" && actor.claim && !actor.claim.taken ? actor.claim : undefined;
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
      // its link is back (gateway/fanout.ts).
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
