// Every domain act runs in one transaction that carries the caller's identity to row-level security:
// the app role `moltstack_app` (never the table owner) plus who is asking. Policies in migrations/ read these.
import { type SQL, sql } from "drizzle-orm";
import { type Actor, sessionRefusal } from "../domain/actor.ts";
import { logFailure } from "../errors.ts";
import { type Database, sqlState, type Tx } from "./client.ts";

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

export async function inTransaction<T>(database: Database, actor: Actor, fn: (tx: Tx, after: After) => Promise<T>): Promise<T> {
  let pending: (() => unknown)[] = [];
  const claim = actor.role === "agent" && actor.claim && !actor.claim.taken ? actor.claim : undefined;
  if (claim) claim.taken = true;
  const session = actor.role === "agent" && actor.session && !actor.session.checked ? actor.session : undefined;
  let result: T;
  for (let attempt = 1; ; attempt++) {
    pending = [];
    try {
      result = await database.run(() =>
        database.transaction(identity(actor, session), async (tx, opened) => {
          if (session) {
            session.state = String(opened?.session);
            const refusal = sessionRefusal(opened?.session, session.apiKey);
            if (refusal) throw refusal;
            session.checked = true;
          }
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

/**
 * The statement that opens every transaction. Its text is the same for every caller (who is asking travels as
 * parameters), so both drivers keep it prepared. With a session still to be checked, the same statement answers its
 * state (`session`), asked once the identity is set (the subquery).
 */
function identity(actor: Actor, session?: { tokenId: string; apiKey: boolean }): SQL {
  const id = actor.role === "agent" ? actor.agentId : actor.role === "observer" ? actor.observerId : "";
  if (id !== "" && !uuidText.test(id)) throw new Error(`not a uuid: ${JSON.stringify(id)}`);
  if (!["anonymous", "observer", "agent", "system"].includes(actor.role)) throw new Error(`unknown role ${actor.role}`);
  const agentId = actor.role === "agent" ? id : "";
  const observerId = actor.role === "observer" ? id : "";
  const set = sql`select set_config('role', 'moltstack_app', true), set_config('moltstack.role', ${actor.role}, true),
                 set_config('moltstack.agent_id', ${agentId}, true), set_config('moltstack.observer_id', ${observerId}, true)`;
  if (!session) return set;
  if (!uuidText.test(session.tokenId)) throw new Error(`not a uuid: ${JSON.stringify(session.tokenId)}`);
  return sql`select app_session_state(${session.tokenId}, ${agentId}, ${session.apiKey}) as session from (${set} offset 0) as identity`;
}

/** Switches, within the transaction, the identity that row-level security sees. */
export async function setIdentity(tx: Tx, actor: Actor): Promise<void> {
  await tx.execute(identity(actor));
}
